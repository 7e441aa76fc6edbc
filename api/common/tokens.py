"""Token routes mounted in every family at /_/<family>/: who am I, and (admin) mint a token."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from api.common.auth import admin_only, any_token
from domain.common.models import Role
from domain.common.tokens import token_create


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


class TokenOut(WhoAmIOut):
    token: str


def _describe(token) -> dict:
    return {
        "name": token.name,
        "role": token.role,
        "study_groups": token.study_groups,
        "subject": token.subject,
    }


def token_router(family: str) -> Router:
    """A fresh router (ninja attaches a router to one API only)."""
    router = Router(tags=["tokens"])

    @router.get("/whoami", response=WhoAmIOut, auth=any_token, url_name=f"{family}-whoami")
    def whoami(request: HttpRequest):
        """Describe the token that made this request. Any valid token may call it."""
        return _describe(request.auth)

    @router.post("/tokens", response={201: TokenOut}, auth=admin_only, url_name=f"{family}-tokens")
    def create_token(request: HttpRequest, payload: TokenIn):
        """Mint an API token (admin only). The plaintext is in this answer and nowhere else."""
        issued = token_create(
            role=payload.role,
            name=payload.name,
            study_groups=payload.study_groups,
            subject=payload.subject,
        )
        return Status(201, {**_describe(issued.token), "token": issued.plaintext})

    return router
