"""The task tracker wire family: /worker, /task, /project, /log, /manager, … Errors use the
tracker's envelope `{"ok": false, "message": …}`; unknown routes and wrong methods get the
original's plain-text `404 Not found`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from api.common.families import Family, build_family_api
from api.common.tokens import token_router
from api.tracker import git, logs, managers, projects, tasks, workers
from api.tracker.openapi import SECURITY_SCHEMES, ErrorReply, as_openapi_30
from api.tracker.wire import (
    PARSE_ERROR,
    CorsPreflight,
    NotFoundPlain,
    cors_ok,
    envelope,
    plain_not_found,
)
from domain.tracker.errors import RateLimited

FAMILY = Family(
    name="tracker",
    title="Regatta — task tracker API",
    version="1.0",
    description="A task queue for external workers: projects, workers, priorities, retries.",
    error_body=lambda message, status: (
        {"ok": False, "message": message} if message else {"ok": False}
    ),
    validation_body=lambda errors: {"ok": False, "message": PARSE_ERROR},
)

api = build_family_api(FAMILY)
api.add_router("/_/tracker", token_router(FAMILY.name, ErrorReply))


def _on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    return envelope(False, message=exc.message, rate_limit_delay=exc.delay, status=429)


def _on_not_found(request: HttpRequest, exc: NotFoundPlain) -> HttpResponse:
    return plain_not_found()


def _on_preflight(request: HttpRequest, exc: CorsPreflight) -> HttpResponse:
    return cors_ok()


api.add_exception_handler(RateLimited, _on_rate_limited)
api.add_exception_handler(NotFoundPlain, _on_not_found)
api.add_exception_handler(CorsPreflight, _on_preflight)

for _module in (workers, tasks, logs, projects, managers, git):
    api.add_router("", _module.router)


_build_openapi = api.get_openapi_schema


def _openapi_with_tracker_schemes(**kwargs):
    # The worker headers and the manager cookie are checked by the routes' Guard, not by a
    # ninja auth class, so their schemes are added here for the routes' `security` to name.
    schema = _build_openapi(**kwargs)
    schema["components"].setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return as_openapi_30(schema)


api.get_openapi_schema = _openapi_with_tracker_schemes
