"""Bearer-token authentication with roles, shared by every family."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from domain.common.models import ApiToken, Role
from domain.common.tokens import Caller, bearer_authenticate

ANY_ROLE = tuple(Role.values)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`: an API token, or a JWT of the OIDC provider when one is
    configured. Unknown, invalid or missing → 401; a known caller whose role is not in `roles`
    → 403. `request.auth` is the ApiToken or the JWT's Principal (same attributes).
    With `api_tokens_only`, a valid JWT is refused with 403 as well."""

    def __init__(self, roles: Iterable[str] = ANY_ROLE, *, api_tokens_only: bool = False) -> None:
        super().__init__()
        self.roles = frozenset(roles)
        self.api_tokens_only = api_tokens_only
        unknown = self.roles - set(Role.values)
        if unknown:
            raise ValueError(f"unknown roles: {sorted(unknown)}")

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        found = bearer_authenticate(credential=token)
        if found is None:
            return None
        if found.role not in self.roles:
            allowed = " or ".join(sorted(self.roles))
            raise AuthorizationError(message=f"This action needs the {allowed} role.")
        if self.api_tokens_only and not isinstance(found, ApiToken):
            raise AuthorizationError(message="This action needs an API token, not a JWT.")
        return found


# Managing API tokens: a JWT admin (possibly a machine token of the provider) must not turn itself
# into a stored credential that outlives the JWT and the provider's own revocation.
token_admin_only = TokenAuth(roles=(Role.ADMIN,), api_tokens_only=True)
any_token = TokenAuth()
