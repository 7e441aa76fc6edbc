"""Bearer JWTs from an OIDC provider (RS256, keys from its JWKS), as the original's users send.

A verified token becomes a `Principal`: the role, study groups and subject an endpoint reads from
an ApiToken, held in memory for the request (no row is written per request). Anything wrong with
a token (shape, algorithm, key, signature, expiry, issuer, audience) makes it no credential at
all, so the caller gets the same answer as with a missing token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.conf import settings

from domain.common import jwks
from domain.common.models import Role

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
# Seconds of clock difference forgiven on exp/nbf/iat between the provider and this host.
LEEWAY = 30
# Far above any real token; refuses to parse megabytes sent by someone probing.
MAX_TOKEN_LENGTH = 16384
# header.payload.signature, each base64url; an unsigned (`alg: none`) token has an empty third part
# and must still take the JWT path, so that it is refused rather than looked up as an API token.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Highest first: a caller holding several roles gets the strongest one.
_ROLE_ORDER = (Role.ADMIN, Role.DEV, Role.USER)
# Auth0's grant type for a machine-to-machine token; the original made such callers ADMIN.
MACHINE_GRANT = "client-credentials"


@dataclass(frozen=True)
class Principal:
    """A caller authenticated by a JWT, with the attributes endpoints read from an ApiToken."""

    role: str
    study_groups: list[str] = field(default_factory=list)
    subject: str = ""
    name: str = "oidc"


@dataclass(frozen=True)
class OidcConfig:
    jwks_url: str
    issuer: str
    audience: str
    roles_claim: str
    groups_claim: str
    cache_seconds: float


def oidc_config() -> OidcConfig | None:
    """The settings in force now (read per call so tests and reloads can change them), or None
    when JWTs are not accepted: no JWKS URL, or (which settings refuse at start) no issuer or
    audience to hold a token to."""
    url = getattr(settings, "OIDC_JWKS_URL", "")
    issuer = getattr(settings, "OIDC_ISSUER", "")
    audience = getattr(settings, "OIDC_AUDIENCE", "")
    if not (url and issuer and audience):
        return None
    return OidcConfig(
        jwks_url=url,
        issuer=issuer,
        audience=audience,
        roles_claim=getattr(settings, "OIDC_ROLES_CLAIM", "https://kidsfirstdrc.org/roles"),
        groups_claim=getattr(settings, "OIDC_GROUPS_CLAIM", "https://kidsfirstdrc.org/groups"),
        cache_seconds=float(getattr(settings, "OIDC_JWKS_CACHE_SECONDS", 3600.0)),
    )


def looks_like_jwt(value: str) -> bool:
    return len(value) <= MAX_TOKEN_LENGTH and _JWT_SHAPE.fullmatch(value) is not None


def jwt_authenticate(token: str, config: OidcConfig) -> Principal | None:
    """The caller `token` speaks for, or None when it is not a valid token of the provider."""
    try:
        claims = verify(token, config)
    except jwt.PyJWTError as exc:
        # The reason helps an operator; the token itself is a credential and is never logged.
        logger.info("bearer JWT refused: %s: %s", type(exc).__name__, exc)
        return None
    return principal_from_claims(claims, config)


def verify(token: str, config: OidcConfig) -> dict[str, Any]:
    """The claims of a token signed with RS256 by a key of the provider's JWKS, unexpired, with
    the configured issuer and audience (both required). Raises jwt.PyJWTError otherwise."""
    header = jwt.get_unverified_header(token)
    # Decided before any key is chosen: `none` or HS256 (keyed with the public key) never
    # reaches a verifier, whatever the header says.
    if header.get("alg") != ALGORITHM:
        raise jwt.InvalidAlgorithmError("only RS256 tokens are accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise jwt.InvalidKeyError("the token names no key (kid)")
    key = jwks.signing_key(config.jwks_url, kid, max_age=config.cache_seconds)
    if key is None:
        raise jwt.InvalidKeyError("no key of the provider has this kid")
    return jwt.decode(
        token,
        key=key,
        algorithms=[ALGORITHM],
        audience=config.audience,
        issuer=config.issuer,
        leeway=LEEWAY,
        # A token for another API of the same tenant (wrong or no `aud`), or one that never
        # expires, is refused.
        options={"require": ["exp", "iss", "aud"]},
    )


def principal_from_claims(claims: Mapping[str, Any], config: OidcConfig) -> Principal:
    """Map the provider's claims to a role as the original did: a machine token is an admin;
    otherwise the highest known role; no known role is a user with no study groups."""
    subject = claims.get("sub") if isinstance(claims.get("sub"), str) else ""
    if claims.get("gty") == MACHINE_GRANT:
        return Principal(role=Role.ADMIN.value, subject=subject)
    named = {r.lower() for r in _strings(claims.get(config.roles_claim))}
    role = next((r for r in _ROLE_ORDER if r.value in named), None)
    if role is None:
        return Principal(role=Role.USER.value, subject=subject)
    groups = _strings(claims.get(config.groups_claim))
    return Principal(role=role.value, study_groups=groups, subject=subject)


def _strings(value: Any) -> list[str]:
    """A claim holding one string or a list of them, as a list without duplicates or blanks."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return list(dict.fromkeys(v for v in items if isinstance(v, str) and v))
