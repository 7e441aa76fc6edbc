"""The Flotilla wire family: /api/v1/… and /api/v6/… (execute also /api/v2 and /api/v4).
Errors: `{"error": …}` with the original's codes (400, 404, 409), plus 401/403 for writes
without an admin or dev token (api/flotilla/auth.py), 413 for an oversized body."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from api.common.families import Family, build_family_api, first_message
from api.common.tokens import token_router
from api.flotilla.decoding import GoJsonParser
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

NUL_MESSAGE = "NUL characters are not allowed in the path or the query."


def _screen_nul(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Before parsing or auth: a NUL in the path or the query is a 400 (PostgreSQL cannot
    compare with one; the original passed it into its SQL)."""

    @wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        query = request.GET
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query
        ):
            return api.on_exception(request, InvalidInput(NUL_MESSAGE))
        return run(request, *args, **kwargs)

    return checked


api.add_decorator(_screen_nul, mode="view")


def _mount() -> None:
    # Order matters where paths overlap (/task/alias/x before /task/{id}, /clusters/x and
    # /task/x before /{run_id}/…): Django tries the patterns in this order.
    from api.flotilla import clusters, definitions, logs, meta, runs

    for module in (definitions, runs, clusters, meta, logs):
        api.add_router("", module.router)


_mount()
