"""A run's logs and events, the v6 slim status with its ETag (spec B.7), and the legacy
status report (B.6), which shares its path."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router

from api.flotilla.auth import runs_writer
from api.flotilla.routes import answers, at_versions, reads, typed
from api.flotilla.schemas import (
    EventsOut,
    LogOut,
    RunStatusOut,
    StatusIn,
    UpdatedOut,
    status_json,
)
from domain.common.errors import InvalidInput
from domain.runs import selectors
from domain.runs.stop import run_status_update

router = Router(tags=["logs and status"])

LOG_PAGE_LINES = 256
TOKEN_DIGITS = 18
# `raw_text=true` answers the whole log as plain text: the document says so beside the JSON.
PLAIN_TEXT = {"responses": {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}}


def _offset(last_seen: str) -> int:
    """The token is the number of lines already read; the original's tokens were opaque too."""
    if last_seen == "":
        return 0
    if not last_seen.isascii() or not last_seen.isdigit() or len(last_seen) > TOKEN_DIGITS:
        raise InvalidInput(f"last_seen [{last_seen[:64]}] is not a token this server issued")
    return int(last_seen)


@at_versions(
    router,
    "GET",
    "/{run_id}/logs",
    response=answers({200: LogOut}, 404),
    openapi_extra=PLAIN_TEXT,
)
@reads
def get_logs(
    request: HttpRequest,
    run_id: str,
    last_seen: str = "",
    raw_text: str = "",
    role: str = "driver",
    facility: str = "stderr",
):
    """Up to 256 lines after `last_seen`, and the token to send next; at the end of the log
    the token stops changing. `raw_text=true` streams the whole log as text/plain. `role` and
    `facility` (Spark driver/executor logs in the original) are accepted and ignored."""
    run = selectors.run_get(run_id=run_id)
    if raw_text.lower() == "true":
        stream = (chunk.encode() for chunk in selectors.run_log_iter(run=run))
        return StreamingHttpResponse(stream, content_type="text/plain; charset=utf-8")
    text, next_line = selectors.run_log_page(
        run=run, after_line=_offset(last_seen), max_lines=LOG_PAGE_LINES
    )
    return {"log": text, "last_seen": str(next_line)}


@at_versions(router, "GET", "/{run_id}/events", response=answers({200: EventsOut}, 404))
@reads
def get_events(request: HttpRequest, run_id: str):
    """The current attempt's events, as the original's pod events."""
    events = selectors.run_events(run=selectors.run_get(run_id=run_id))
    return {"total": len(events), "pod_events": events}


def _etag(status: str, exit_code: int | None) -> str:
    return f'"{status}-{exit_code if exit_code is not None else "unknown"}"'


@at_versions(
    router,
    "GET",
    "/{run_id}/status",
    versions=("v6",),
    response=answers({200: RunStatusOut, 304: None}, 404),
)
@reads
@typed(response=HttpResponse)
def get_status(request: HttpRequest, run_id: str, response: HttpResponse):
    """The slim status, cacheable for 5 s; `If-None-Match` with the current ETag is a 304."""
    run = selectors.run_get(run_id=run_id)
    tag = _etag(run.status, run.exit_code)
    response["ETag"] = tag
    response["Cache-Control"] = "max-age=5"
    wanted = _matches(request.headers.get("If-None-Match", ""))
    if tag in wanted or "*" in wanted:
        not_modified = HttpResponse(status=304)
        not_modified["ETag"] = tag
        not_modified["Cache-Control"] = "max-age=5"
        return not_modified
    return status_json(run)


def _matches(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


@at_versions(
    router,
    "PUT",
    "/{run_id}/status",
    response=answers({200: UpdatedOut}, 403, 404, 413),
    auth=runs_writer,
)
def update_status(request: HttpRequest, run_id: str, payload: StatusIn):
    """The legacy status report (admin or dev): the status moves only forward; STOPPED stops
    the run's execution; without `exit_reason`, one is derived from `run_exceptions`."""
    if not payload.status:
        raise InvalidInput("status  is invalid")
    run_status_update(
        run_id=run_id,
        status=payload.status,
        exit_code=payload.exit_code,
        run_exceptions=payload.run_exceptions,
        exit_reason=payload.exit_reason,
    )
    return {"updated": True}
