"""Who may call the releases family: bearer tokens (or OIDC JWTs) by role, and study groups."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from domain.common.errors import DomainError, Forbidden
from domain.common.models import Role
from domain.common.tokens import Caller, bearer_authenticate


class CredentialsMissing(DomainError):
    """No Authorization header at all: 401, as RFC 9110 and the OpenAPI fuzzer expect."""

    status_code = 401


class CredentialsRefused(DomainError):
    status_code = 403


NOT_PROVIDED = "Authentication credentials were not provided."


class RoleAuth(HttpBearer):
    """A bearer API token, or an OIDC JWT when configured, whose role is one of `roles` (403 with
    `message` otherwise). An invalid JWT is no credential: the same 403 as a missing token."""

    def __init__(self, roles: Iterable[str], message: str) -> None:
        super().__init__()
        self.roles = frozenset(roles)
        self.message = message

    def __call__(self, request: HttpRequest) -> Caller:
        # The original (DRF) answers a write without valid credentials with 403 and this text.
        # A request with no credentials at all now gets 401 (same text, and `WWW-Authenticate`);
        # a bearer token that is unknown, revoked or an invalid JWT keeps the original's 403.
        found = super().__call__(request)
        if found is not None:
            return found
        if "HTTP_AUTHORIZATION" not in request.META:
            raise CredentialsMissing(NOT_PROVIDED)
        raise CredentialsRefused(NOT_PROVIDED)

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        found = bearer_authenticate(credential=token)
        if found is None:
            return None
        if found.role not in self.roles:
            raise AuthorizationError(message=self.message)
        return found


admin_auth = RoleAuth((Role.ADMIN,), "Must be an admin")
developer_auth = RoleAuth((Role.ADMIN, Role.DEV), "Must be a developer")
person_auth = RoleAuth((Role.ADMIN, Role.DEV, Role.USER), "Not allowed")
task_writer_auth = RoleAuth((Role.ADMIN, Role.SERVICE), "Must be an admin")
trigger_auth = RoleAuth((Role.ADMIN, Role.SERVICE), "Must be an admin or a service")


def require_study_groups(token: Caller, study_ids: Iterable[str]) -> None:
    """Admins may touch any release; anyone else only releases whose studies are all theirs."""
    if token.role == Role.ADMIN:
        return
    groups = set(token.study_groups or [])
    ids = set(study_ids)
    if not ids or not ids <= groups:
        raise Forbidden("Not allowed")
