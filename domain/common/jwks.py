"""The OIDC provider's signing keys (a JWKS), fetched over HTTP and cached per process.

Keys are looked up by `kid`. A kid the cached set lacks makes one refetch (the provider rotated
its keys), at most once per REFETCH_MIN_INTERVAL so a stream of made-up kids cannot turn every
request into a call to the provider. A failed fetch keeps the keys already known: a short outage
of the provider should not log everyone out.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from domain.common import outbound

logger = logging.getLogger(__name__)

REFETCH_MIN_INTERVAL = 10.0  # seconds between two fetches of one URL that were not due by age
USER_AGENT = "Regatta/0.1 (oidc-jwks; python-requests)"


class JwksUnavailable(Exception):
    """The key set could not be fetched or read."""


@dataclass
class _KeySet:
    keys: dict[str, RSAPublicKey] = field(default_factory=dict)
    fetched_at: float = -math.inf  # monotonic time of the last successful fetch
    attempted_at: float = -math.inf  # monotonic time of the last attempt, successful or not


_sets: dict[str, _KeySet] = {}
# Monotonic: a wall-clock jump must neither expire the cache nor lift the refetch limit. A module
# attribute so that tests can move time without sleeping.
_clock = time.monotonic
# One lock for all URLs: a fetch is rare, and threads that wait for it want its result anyway.
_lock = threading.Lock()


def signing_key(url: str, kid: str, *, max_age: float) -> RSAPublicKey | None:
    """The RS256 public key named `kid` in the JWKS at `url`, or None if it has no such key."""
    with _lock:
        entry = _sets.setdefault(url, _KeySet())
        now = _clock()
        may_refetch = now - entry.attempted_at >= REFETCH_MIN_INTERVAL
        stale = now - entry.fetched_at >= max_age
        if may_refetch and (stale or kid not in entry.keys):
            _refresh(url, entry, now)
        return entry.keys.get(kid)


def clear_cache() -> None:
    """Forget every fetched key set (tests; a process that must drop keys at once)."""
    with _lock:
        _sets.clear()


def _refresh(url: str, entry: _KeySet, now: float) -> None:
    entry.attempted_at = now
    try:
        entry.keys = _fetch(url)
    except JwksUnavailable as exc:
        logger.warning(
            "JWKS fetch from %s failed, keeping %d known keys: %s", url, len(entry.keys), exc
        )
        return
    entry.fetched_at = now


def _fetch(url: str) -> dict[str, RSAPublicKey]:
    try:
        resp = outbound.request(
            "GET", url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
        )
    except outbound.OutboundError as exc:
        raise JwksUnavailable(exc.detail) from exc
    if resp.status_code >= 400:
        raise JwksUnavailable(f"the provider answered {resp.status_code}")
    try:
        data = resp.json()
    except ValueError as exc:
        raise JwksUnavailable(f"the answer is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksUnavailable("the answer is not a JWKS (no `keys` list)")
    return _rsa_keys(data["keys"])


def _rsa_keys(entries: list[Any]) -> dict[str, RSAPublicKey]:
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        key = _rsa_key(entry)
        if key is not None:
            keys[entry["kid"]] = key
    return keys


def _rsa_key(entry: Any) -> RSAPublicKey | None:
    # Only RSA signature keys with a kid can verify an RS256 token; a set may also hold other
    # kinds (encryption keys, EC keys), which are skipped rather than failing the whole set.
    if not isinstance(entry, dict) or entry.get("kty") != "RSA":
        return None
    if not isinstance(entry.get("kid"), str) or not entry["kid"]:
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
        return None
    try:
        key = jwt.PyJWK(entry, algorithm="RS256").key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    # A published private key is a provider's mistake; verifying needs only public keys.
    return key if isinstance(key, RSAPublicKey) else None
