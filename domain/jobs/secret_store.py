"""Secret values (a job type's secret settings, a workspace's S3 credentials), encrypted at rest.

Each is a JSON object stored as one Fernet token in `StoredSecret`. The key comes from
`SCALE_SECRETS_KEY` (one Fernet key, or several separated by commas: the first encrypts, every
one decrypts, so a key can be rotated). With none set, as on the embedded default, a key is
generated with `secrets` into `<data dir>/scale-secrets.key` (mode 0600) on first use. Values
are never logged and no endpoint returns them.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from domain.common.env import env_str
from domain.common.secretfile import private_file_write
from domain.jobs.models import StoredSecret

KEY_ENV = "SCALE_SECRETS_KEY"
KEY_FILE = "scale-secrets.key"


def _key_file() -> Path:
    return Path(settings.DATA_DIR) / KEY_FILE


def _keys() -> list[str]:
    configured = [k.strip() for k in env_str(KEY_ENV).split(",") if k.strip()]
    if configured:
        return configured
    path = _key_file()
    if not path.exists():
        # Of processes starting at once, the first file wins and every one reads it.
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        private_file_write(path, key, replace=False)
    return [path.read_text().strip()]


def _cipher() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in _keys()])
    except ValueError as exc:
        # The message never quotes the key.
        raise ImproperlyConfigured(
            f"{KEY_ENV} must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated"
        ) from exc


def secret_values_read(*, key: str) -> dict[str, str]:
    """The stored values under `key` ({} when there are none)."""
    row = StoredSecret.objects.filter(key=key).first()
    return {} if row is None else _decrypted(row)


def _decrypted(row: StoredSecret) -> dict[str, str]:
    try:
        return json.loads(_cipher().decrypt(row.ciphertext.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            f"stored secrets {row.key!r} do not decrypt with {KEY_ENV}"
        ) from exc


def secret_values_merge(*, key: str, values: dict[str, str]) -> None:
    """Store `values` under `key`, keeping stored values of other names: a caller cannot read
    secrets back, so leaving one out of an edit must not erase it."""
    if not values:
        return
    merged = {**secret_values_read(key=key), **values}
    token = _cipher().encrypt(json.dumps(merged, sort_keys=True).encode()).decode()
    StoredSecret.objects.update_or_create(key=key, defaults={"ciphertext": token})


def secret_names(*, key: str) -> frozenset[str]:
    return frozenset(secret_values_read(key=key))


def secret_names_many(*, keys: Iterable[str]) -> dict[str, frozenset[str]]:
    """The names stored under each of `keys` (none for a key with nothing stored), in one
    query: the scheduler asks for every job type of a pass at once."""
    found = {key: frozenset() for key in keys}
    for row in StoredSecret.objects.filter(key__in=list(found)):
        found[row.key] = frozenset(_decrypted(row))
    return found
