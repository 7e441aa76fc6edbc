"""API tokens: create (plaintext returned once), authenticate, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from domain.common import oidc
from domain.common.errors import InvalidInput
from domain.common.models import ApiToken, Role
from domain.common.oidc import Principal

TOKEN_PREFIX = "rg_"  # noqa: S105 (a marker, not a secret)
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# Whoever a bearer credential speaks for: a stored API token, or a verified JWT's principal.
# Both carry `role`, `study_groups`, `subject` and `name`, which is all endpoints read.
Caller = ApiToken | Principal


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def token_create(
    *, role: str, name: str = "", study_groups: list[str] | None = None, subject: str = ""
) -> IssuedToken:
    if role not in Role.values:
        raise InvalidInput(f"role must be one of {', '.join(Role.values)}")
    groups = list(study_groups or [])
    if not all(isinstance(g, str) and g for g in groups):
        raise InvalidInput("study_groups must be a list of study ids")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name[:100],
        role=role,
        study_groups=groups,
        subject=subject[:100],
        token_hash=hash_token(plaintext),
        token_prefix=plaintext[:10],
    )
    return IssuedToken(token=token, plaintext=plaintext)


def token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The live token matching `plaintext`, or None. The lookup is by hash; the final comparison is
    constant-time so the answer's timing says nothing about how much of a guess was right."""
    if not plaintext or len(plaintext) > 200:
        return None
    digest = hash_token(plaintext)
    token = ApiToken.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def bearer_authenticate(*, credential: str) -> Caller | None:
    """The caller a bearer value speaks for, or None. A JWT-shaped value is verified as a JWT
    when OIDC is configured (API tokens never contain dots, so nothing is tried twice); anything
    else, and every value while OIDC is off, is looked up as an API token."""
    config = oidc.oidc_config()
    if config is not None and oidc.looks_like_jwt(credential):
        return oidc.jwt_authenticate(credential, config)
    return token_authenticate(plaintext=credential)


def token_revoke(*, token_id: int) -> bool:
    return bool(
        ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def admin_token_exists() -> bool:
    return ApiToken.objects.filter(role=Role.ADMIN, revoked_at__isnull=True).exists()
