"""API tokens: create (plaintext returned once, optionally expiring), authenticate, list, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from domain.common import oidc
from domain.common.errors import InvalidInput, NotFound
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
    *,
    role: str,
    name: str = "",
    study_groups: list[str] | None = None,
    subject: str = "",
    expires_at: datetime | None = None,
) -> IssuedToken:
    if role not in Role.values:
        raise InvalidInput(f"role must be one of {', '.join(Role.values)}")
    groups = list(study_groups or [])
    if not all(isinstance(g, str) and g for g in groups):
        raise InvalidInput("study_groups must be a list of study ids")
    expires_at = _checked_expiry(expires_at)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name[:100],
        role=role,
        study_groups=groups,
        subject=subject[:100],
        token_hash=hash_token(plaintext),
        token_prefix=plaintext[:10],
        expires_at=expires_at,
    )
    return IssuedToken(token=token, plaintext=plaintext)


def _checked_expiry(expires_at: datetime | None) -> datetime | None:
    """The expiry in UTC. PostgreSQL refuses a zone offset past 15:59, which ISO 8601 allows
    (+21:46 was a 500), so the offset never reaches the database."""
    if expires_at is None:
        return None
    # A naive time would be read in the server's zone, which the caller cannot know.
    if timezone.is_naive(expires_at):
        raise InvalidInput("expires_at must carry a time zone, e.g. 2027-01-31T00:00:00Z")
    try:
        expires_at = expires_at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("expires_at must be before the year 10000") from None
    if expires_at <= timezone.now():
        raise InvalidInput("expires_at must be in the future")
    return expires_at


def _live(now: datetime) -> Q:
    """Tokens that may authenticate at `now`: not revoked and not expired."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


# `_live` and the hash, written as SQL: every request authenticates, and building the
# filter().first() query cost three times the CPU of running it. A raw queryset still applies
# each field's conversions (study_groups is JSON), and nothing is cached: a revoked or expired
# token is refused on the next request.
_AUTHENTICATE_SQL = (
    "SELECT * FROM common_apitoken WHERE token_hash = %s AND revoked_at IS NULL"
    " AND (expires_at IS NULL OR expires_at > %s) LIMIT 1"
)


def token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The live token matching `plaintext`, or None. The lookup is by hash; the final comparison is
    constant-time so the answer's timing says nothing about how much of a guess was right."""
    if not plaintext or len(plaintext) > 200:
        return None
    digest = hash_token(plaintext)
    now = timezone.now()
    # As the ORM would send it: SQLite compares datetimes as text in its own format.
    at = connection.ops.adapt_datetimefield_value(now)
    token = next(iter(ApiToken.objects.raw(_AUTHENTICATE_SQL, [digest, at])), None)
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
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


def token_list() -> QuerySet[ApiToken]:
    """Every token, newest first (revoked and expired ones too: the list is an audit aid)."""
    return ApiToken.objects.order_by("-created_at", "-pk")


def token_revoke(*, token_id: int) -> bool:
    """Revoke a token at once. True when this call revoked it, False when it already was;
    NotFound when there is no such token."""
    revoked = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not revoked and not ApiToken.objects.filter(pk=token_id).exists():
        raise NotFound(f"No token has the id {token_id}.")
    return bool(revoked)


def admin_token_exists() -> bool:
    return ApiToken.objects.filter(_live(timezone.now()), role=Role.ADMIN).exists()
