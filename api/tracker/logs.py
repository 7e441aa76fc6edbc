"""/log/{trace|info|warn|error} (worker, 204) and /logs (no auth)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.openapi import NO_BODY, Doc, LogIn, LogQueryIn
from api.tracker.wire import I64, PARSE_ERROR, STR, decode, no_content, ok, route
from domain.tracker.errors import TrackerError
from domain.tracker.logs import LEVELS, log_write, logs_since

router = Router(tags=["logs"])
LOG_SPEC = {"scope": STR, "message": STR, "timestamp": I64}


def _write(request: HttpRequest, level: int) -> HttpResponse:
    body = decode(request, LOG_SPEC)
    if not body["scope"] or not body["message"] or body["timestamp"] <= 0:
        raise TrackerError(400, PARSE_ERROR)
    log_write(
        level=level,
        worker_id=request.auth.id,
        scope=body["scope"],
        message=body["message"],
        timestamp=body["timestamp"],
    )
    return no_content()


def _register(name: str, level: int) -> None:
    def write(request: HttpRequest) -> HttpResponse:
        return _write(request, level)

    write.__name__ = f"log_{name}"
    # Any failure on /log/*, authentication included, is the same 400 in the original.
    route(router, f"/log/{name}", ("POST",), worker=400, worker_message=PARSE_ERROR, doc=WRITE)(
        write
    )


WRITE = Doc(
    summary="Store a log line of the calling worker",
    body=LogIn,
    ok=None,
    errors=(400, 413),
    worker_headers=True,
    raw={204: NO_BODY},
)


for _name, _level in LEVELS.items():
    _register(_name, _level)


@route(
    router,
    "/logs",
    ("POST",),
    doc=Doc(summary="Log lines of a level since a time", body=LogQueryIn, errors=(400, 413)),
)
def query(request: HttpRequest) -> HttpResponse:
    body = decode(request, {"level": I64, "since": I64})
    if body["since"] <= 0:
        raise TrackerError(400, "Invalid log request")
    return ok({"logs": logs_since(level=body["level"], since=body["since"])})
