"""The Flotilla wire family: /api/v1/… and /api/v6/… (execute also /api/v2 and /api/v4).
Errors: `{"error": …}` with the original's codes (400, 404, 409), plus 401/403 for writes
without an admin or dev token (api/flotilla/auth.py), 413 for an oversized body."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from api.common.families import Family, build_family_api, first_message
from api.common.tokens import token_router
from api.flotilla.decoding import GoJsonParser, refuse_unstorable
from api.flotilla.schemas import ErrorOut
from domain.common.errors import InvalidInput

FAMILY = Family(
    name="flotilla",
    title="Regatta — Flotilla task definitions and runs API",
    version="1",
    description="Task definitions, their runs, logs and stops.",
    error_body=lambda message, status: {"error": message},
    validation_body=lambda errors: {"error": first_message(errors)},
)

api = build_family_api(FAMILY, parser=GoJsonParser())
api.add_router("/_/flotilla", token_router(FAMILY.name, ErrorOut))

UNSTORABLE_MESSAGE = "NUL characters and lone surrogates are not allowed."


# A JSON escape of NUL or of a lone surrogate (a pair is fine: it is checked once parsed).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def _unstorable_query(request: HttpRequest) -> bool:
    query = request.GET
    return "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query
    )


def _unstorable_body(request: HttpRequest) -> bool:
    """A body holding what PostgreSQL cannot store, in any member: the family's own bodies
    check this field by field (api/flotilla/decoding.py); this covers the shared token routes."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    try:
        raw = request.body
    except RequestDataTooBig:
        return False  # the operation answers 413
    if b"\x00" in raw:
        return True
    if not _UNSTORABLE_ESCAPE.search(raw):
        return False
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False  # not JSON: the operation's parser answers 400
    try:
        refuse_unstorable(data)
    except ValueError:
        return True
    return False


def _screen_unstorable(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Before parsing or auth: a NUL (or lone surrogate) in the path, query or body is a 400.
    PostgreSQL cannot hold one; the original passed them into its SQL."""

    @wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _unstorable_query(request) or _unstorable_body(request):
            return api.on_exception(request, InvalidInput(UNSTORABLE_MESSAGE))
        return run(request, *args, **kwargs)

    return checked


api.add_decorator(_screen_unstorable, mode="view")


def _mount() -> None:
    # Order matters where paths overlap (/task/alias/x before /task/{id}, /clusters/x and
    # /task/x before /{run_id}/…): Django tries the patterns in this order.
    from api.flotilla import clusters, definitions, logs, meta, runs

    for module in (definitions, runs, clusters, meta, logs):
        api.add_router("", module.router)


_mount()
