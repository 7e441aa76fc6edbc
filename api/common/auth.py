"""Bearer-token authentication with roles, shared by every family."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from domain.common.models import ApiToken, Role
from domain.common.tokens import token_authenticate

ANY_ROLE = tuple(Role.values)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. Unknown or missing → 401; a known token whose role is not
    in `roles` → 403. The authenticated token is `request.auth`."""

    def __init__(self, roles: Iterable[str] = ANY_ROLE) -> None:
        super().__init__()
        self.roles = frozenset(roles)
        unknown = self.roles - set(Role.values)
        if unknown:
            raise ValueError(f"unknown roles: {sorted(unknown)}")

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = token_authenticate(plaintext=token)
        if found is None:
            return None
        if found.role not in self.roles:
            allowed = " or ".join(sorted(self.roles))
            raise AuthorizationError(message=f"This action needs the {allowed} role.")
        return found


admin_only = TokenAuth(roles=(Role.ADMIN,))
any_token = TokenAuth()
