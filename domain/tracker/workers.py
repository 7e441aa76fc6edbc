"""Workers: creation (the only time a secret is shown), authentication, alias, pause, stats."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from domain.tracker import conf, ratelimit
from domain.tracker.errors import TrackerError
from domain.tracker.models import ClosedTally, Worker

RESERVED_ALIAS = "unassigned"
DEFAULT_ALIAS = "default_alias"
_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class AuthedWorker:
    id: int


# Secret hashes by worker id. A worker's secret never changes and workers are never deleted, so
# a process may keep what it has read: this saves a query on every worker request. Mutable
# worker state (`paused`) is never cached.
_SECRET_HASHES: dict[int, bytes] = {}
_CACHE_LIMIT = 100_000


def _secret_hash(worker_id: int) -> bytes | None:
    cached = _SECRET_HASHES.get(worker_id)
    if cached is not None:
        return cached
    # Raw SQL: the ORM's query building costs more than this query.
    with connection.cursor() as cur:
        cur.execute("SELECT secret_hash FROM tracker_worker WHERE id = %s", [worker_id])
        row = cur.fetchone()
    if row is None:
        return None
    if len(_SECRET_HASHES) >= _CACHE_LIMIT:
        _SECRET_HASHES.clear()
    _SECRET_HASHES[worker_id] = bytes(row[0])
    return _SECRET_HASHES[worker_id]


def worker_is_paused(*, worker_id: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT paused FROM tracker_worker WHERE id = %s", [worker_id])
        row = cur.fetchone()
    return bool(row and row[0])


def _hash_secret(raw: bytes) -> bytes:
    # 32 random bytes need no slow hash: a preimage search over 2^256 is the attack.
    return hashlib.sha256(raw).digest()


def worker_create(*, alias: str) -> tuple[Worker, str]:
    """Create a worker; returns it with its secret in base64, which is never shown again."""
    if alias == RESERVED_ALIAS:
        raise TrackerError(403, "You are now allowed to create a worker")
    raw = secrets.token_bytes(32)
    worker = Worker.objects.create(
        created=int(time.time()),
        alias=alias or DEFAULT_ALIAS,
        secret_hash=_hash_secret(raw),
    )
    return worker, base64.b64encode(raw).decode()


def worker_creation_reserve(*, client: str) -> None:
    """Take a worker-creation token of this client address or raise RateLimited: creation
    needs no credentials, so the rows one address can make are bounded."""
    ratelimit.reserve(
        subject=client,
        kind="worker_create",
        rate=conf.WORKER_CREATE_RATE,
        burst=conf.WORKER_CREATE_BURST,
    )


def parse_int_header(value: str) -> int:
    """Go's strconv.ParseInt(value, 10, 64), including its error text."""
    if not _INT.fullmatch(value):
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        raise ValueError(f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


def worker_authenticate(*, worker_id: str | None, secret: str | None, status: int) -> AuthedWorker:
    """Check X-Worker-Id / X-Secret; a failure raises TrackerError(status), original's text."""
    if not worker_id:
        raise TrackerError(status, "worker id not specified")
    if not secret:
        raise TrackerError(status, "secret is not specified")
    try:
        wid = parse_int_header(worker_id)
    except ValueError as exc:
        raise TrackerError(status, str(exc)) from None
    stored = _secret_hash(wid)
    if stored is None:
        raise TrackerError(status, "worker id does not match any valid worker")
    try:
        raw = base64.b64decode(secret.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TrackerError(status, "invalid secret") from None
    if not hmac.compare_digest(_hash_secret(raw), stored):
        raise TrackerError(status, "invalid secret")
    return AuthedWorker(id=wid)


def worker_update(*, worker_id: int, alias: str) -> bool:
    if alias == RESERVED_ALIAS:
        return False
    return Worker.objects.filter(pk=worker_id).update(alias=alias or DEFAULT_ALIAS) == 1


def worker_set_paused(*, worker_id: int, paused: bool) -> None:
    if Worker.objects.filter(pk=worker_id).update(paused=paused) != 1:
        raise TrackerError(400, "Invalid worker")


def worker_json(worker: Worker) -> dict:
    """The wire object. `secret` is always null: only the creation reply carries it."""
    out: dict = {"id": worker.id, "created": worker.created}
    if worker.alias:
        out["alias"] = worker.alias
    out["secret"] = None
    out["paused"] = worker.paused
    return out


def worker_stats() -> list[dict]:
    pending = (
        ClosedTally.objects.filter(worker_id=OuterRef("pk"))
        .values("worker_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = Worker.objects.annotate(pending=Coalesce(Subquery(pending), 0)).order_by("id")
    return [
        {"alias": alias, "closed_task_count": closed + extra, "paused": paused, "id": wid}
        for wid, alias, closed, extra, paused in rows.values_list(
            "id", "alias", "closed_task_count", "pending", "paused"
        )
    ]
