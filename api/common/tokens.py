"""Token routes mounted in every family at /_/<family>/: who am I, and (admin) mint, list and
revoke API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from api.common.auth import any_token, token_admin_only
from api.common.pagination import ReleasesPagination, Serialized
from domain.common.models import ApiToken, Role
from domain.common.tokens import token_create, token_list, token_revoke


class WhoAmIOut(Schema):
    name: str
    role: str
    study_groups: list[str]
    subject: str


class TokenIn(Schema):
    role: Role
    name: str = Field("", max_length=100)
    study_groups: list[str] = Field(default_factory=list, max_length=10000)
    subject: str = Field("", max_length=100)
    expires_at: datetime | None = Field(
        None, description="When the token stops working (ISO 8601 with a zone); none = never."
    )


class TokenInfoOut(WhoAmIOut):
    """A stored token as an admin sees it: never its secret, only the first characters."""

    id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenOut(TokenInfoOut):
    token: str


def _describe(token) -> dict:
    return {
        "name": token.name,
        "role": token.role,
        "study_groups": token.study_groups,
        "subject": token.subject,
    }


def _info(token: ApiToken) -> dict:
    return {
        **_describe(token),
        "id": token.pk,
        "prefix": token.token_prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def token_router(family: str, error: Any = dict[str, Any]) -> Router:
    """A fresh router (ninja attaches a router to one API only). `error` is the family's error
    envelope, for the OpenAPI document."""
    router = Router(tags=["tokens"])

    @router.get(
        "/whoami",
        response={200: WhoAmIOut, 401: error},
        auth=any_token,
        url_name=f"{family}-whoami",
    )
    def whoami(request: HttpRequest):
        """Describe the token that made this request. Any valid token may call it."""
        return _describe(request.auth)

    @router.post(
        "/tokens",
        response={201: TokenOut, 400: error, 401: error, 403: error, 413: error},
        auth=token_admin_only,
        url_name=f"{family}-tokens",
    )
    def create_token(request: HttpRequest, payload: TokenIn):
        """Mint an API token (admins holding an API token; never a JWT caller). The plaintext is
        in this answer and nowhere else."""
        issued = token_create(
            role=payload.role,
            name=payload.name,
            study_groups=payload.study_groups,
            subject=payload.subject,
            expires_at=payload.expires_at,
        )
        return Status(201, {**_info(issued.token), "token": issued.plaintext})

    @router.get(
        "/tokens",
        response={200: list[TokenInfoOut], 400: error, 401: error, 403: error},
        auth=token_admin_only,
    )
    @paginate(ReleasesPagination)
    def list_tokens(request: HttpRequest):
        """Every API token, newest first, revoked and expired ones included (admins holding an
        API token). Secrets are never shown: `prefix` is the plaintext's first characters."""
        return Serialized(token_list(), _info)

    @router.delete(
        "/tokens/{int:token_id}",
        response={204: None, 401: error, 403: error, 404: error},
        auth=token_admin_only,
        # A segment that is not an integer matches no route: Django's own 404 page.
        openapi_extra={"responses": {404: {"content": {"text/html": {"schema": {}}}}}},
        url_name=f"{family}-token",
    )
    def revoke_token(request: HttpRequest, token_id: int):
        """Revoke a token: from the next request on it gets 401. Revoking a revoked token is a
        no-op (204); an unknown id is 404."""
        token_revoke(token_id=token_id)
        return Status(204, None)

    return router
