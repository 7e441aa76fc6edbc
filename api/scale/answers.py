"""The answers each operation of the family documents, and links into the family."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from api.common.links import absolute_url
from api.scale.schemas import DetailOut


def answers(ok: dict[int, Any], *refusals: int) -> dict[int, Any]:
    """An operation's documented answers: its success, the 400 every operation can give (bad
    query, bad body, a NUL) and each refusal named: 401 (with auth), 403 (writes), 404 (a path
    that names nothing, or a page past the last), 413 (a body too large)."""
    return {**ok, **{code: DetailOut for code in (400, *refusals)}}


def family_url(request: HttpRequest, path: str) -> str:
    """An absolute URL under the version the request came in by (`/v6/` or `/v7/`)."""
    version = request.path.strip("/").split("/", 1)[0]
    return absolute_url(request, f"/{version}/{path.lstrip('/')}")
