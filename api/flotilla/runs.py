"""Runs: execute (spec B.4), history (B.7), stop and the legacy status report (B.6)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate

from api.common.pagination import Serialized
from api.flotilla.auth import caller_name, runs_writer
from api.flotilla.listing import FlotillaListing, Listing, filter_query, list_request
from api.flotilla.routes import answers, at_versions, reads, typed
from api.flotilla.schemas import (
    LaunchFields,
    LaunchV1In,
    LaunchV2In,
    LaunchV4In,
    RunOut,
    TerminatedOut,
    env_pairs,
    run_json,
)
from domain.common.errors import InvalidInput
from domain.runs import selectors
from domain.runs.execute import RunRequest, run_execute
from domain.runs.models import Run
from domain.runs.stop import run_stop, stop_reason

router = Router(tags=["runs"])

EXECUTED = answers({200: RunOut}, 403, 404, 413)
DEFAULT_SORT = "group_name"
RunQuery = filter_query("RunQuery", selectors.RUN_FILTERS, selectors.RUN_SORTS, DEFAULT_SORT)
V1_OWNER = "v1-unknown"


def _request(request: HttpRequest, body: LaunchFields, owner: str, run_tags: dict) -> RunRequest:
    if body.spark_extension is not None:
        raise InvalidInput("spark_extension: Spark runs (eks-spark) are not supported")
    fields = body.model_dump(
        exclude_none=True,
        exclude={"env", "cluster", "tier", "spark_extension", "command_hash", "run_tags"},
    )
    return RunRequest(
        owner=owner,
        token_name=caller_name(request),
        cluster=body.cluster or "",
        tier=body.tier or "",
        env=env_pairs(body.env) or [],
        run_tags=run_tags,
        **fields,
    )


def _tags(body: LaunchV2In | LaunchV4In) -> dict:
    return body.run_tags.model_dump(exclude_none=True) if body.run_tags else {}


def _owner_id(body: LaunchV4In) -> str:
    owner = body.run_tags.owner_id if body.run_tags else None
    if not owner:
        raise InvalidInput("run_tags must exist in body and contain [owner_id]")
    return owner


# --- execute -------------------------------------------------------------------------------------


@at_versions(
    router,
    "PUT",
    "/task/alias/{alias}/execute",
    response=EXECUTED,
    auth=runs_writer,
    exclude_none=True,
)
def execute_by_alias(request: HttpRequest, alias: str, payload: LaunchV4In):
    """Run the definition with this alias (admin or dev; `run_tags.owner_id` required)."""
    run = _request(request, payload, _owner_id(payload), _tags(payload))
    return run_json(run_execute(request=run, alias=alias))


@at_versions(
    router,
    "PUT",
    "/task/{definition_id}/execute",
    versions=("v1",),
    response=EXECUTED,
    auth=runs_writer,
    exclude_none=True,
)
def execute_v1(request: HttpRequest, definition_id: str, payload: LaunchV1In):
    """The legacy execute (admin or dev): `cluster`, `env`, `tier`; the owner is v1-unknown."""
    run = RunRequest(
        owner=V1_OWNER,
        token_name=caller_name(request),
        cluster=payload.cluster or "",
        tier=payload.tier or "",
        env=env_pairs(payload.env) or [],
    )
    return run_json(run_execute(request=run, definition_id=definition_id))


@at_versions(
    router,
    "PUT",
    "/task/{definition_id}/execute",
    versions=("v2",),
    response=EXECUTED,
    auth=runs_writer,
    exclude_none=True,
)
def execute_v2(request: HttpRequest, definition_id: str, payload: LaunchV2In):
    """Execute (admin or dev) with `run_tags.owner_email` and `run_tags.team_name`."""
    tags = payload.run_tags
    if tags is None or not tags.owner_email or not tags.team_name:
        raise InvalidInput("run_tags must exist in body and contain [owner_email] and [team_name]")
    run = _request(request, payload, tags.owner_email, _tags(payload))
    return run_json(run_execute(request=run, definition_id=definition_id))


@at_versions(
    router,
    "PUT",
    "/task/{definition_id}/execute",
    versions=("v4", "v6"),
    response=EXECUTED,
    auth=runs_writer,
    exclude_none=True,
)
def execute(request: HttpRequest, definition_id: str, payload: LaunchV4In):
    """Execute (admin or dev): `run_tags.owner_id` required; request values override the
    definition's command, resources and env."""
    run = _request(request, payload, _owner_id(payload), _tags(payload))
    return run_json(run_execute(request=run, definition_id=definition_id))


# --- history -------------------------------------------------------------------------------------


def _history(request: HttpRequest, extra: dict | None = None) -> Listing:
    asked = list_request(request, default_sort=DEFAULT_SORT, extra=extra)
    rows = selectors.runs_list(
        filters=asked.filters, env=asked.env, sort_by=asked.sort_by, order=asked.order
    )
    return Listing(Serialized(rows, run_json), asked.echo())


@at_versions(
    router, "GET", "/history", response=answers({200: list[RunOut]}, 404), exclude_none=True
)
@paginate(FlotillaListing, items_key="history")
@reads
@typed(query=RunQuery)
def list_runs(request: HttpRequest, query: RunQuery):
    """Runs, filtered by any column (`status=RUNNING&status=QUEUED`, `cluster=c`,
    `started_at_since=2024-01-01`, `env=NAME|VALUE`, …) and sorted by `sort_by` in `order`.
    A `definition_id` that names no definition is a 404."""
    return _history(request)


@at_versions(
    router,
    "GET",
    "/task/{definition_id}/history",
    response=answers({200: list[RunOut]}, 404),
    exclude_none=True,
)
@paginate(FlotillaListing, items_key="history")
@reads
@typed(query=RunQuery)
def list_definition_runs(request: HttpRequest, definition_id: str, query: RunQuery):
    """The runs of one definition (404 when it does not exist), with the same filters."""
    return _history(request, extra={"definition_id": [definition_id]})


def _detail(run: Run) -> dict:
    # The detail (not the lists) carries the current attempt's events, as the original did.
    return run_json(run, pod_events=selectors.run_events(run=run))


@at_versions(
    router,
    "GET",
    "/history/{run_id}",
    also_at={"/task/history/{run_id}": "get_task_run"},
    response=answers({200: RunOut}, 404),
    exclude_none=True,
)
@reads
def get_run(request: HttpRequest, run_id: str):
    """A run, with its full effective environment (definition, request and reserved)."""
    return _detail(selectors.run_get(run_id=run_id))


@at_versions(
    router,
    "GET",
    "/task/{definition_id}/history/{run_id}",
    response=answers({200: RunOut}, 404),
    exclude_none=True,
)
@reads
def get_definition_run(request: HttpRequest, definition_id: str, run_id: str):
    return _detail(selectors.run_get(run_id=run_id, definition_id=definition_id))


# --- stop and status -----------------------------------------------------------------------------


def _email(request: HttpRequest) -> str:
    # The original took the email from any header whose name contains "-email".
    for name, value in request.headers.items():
        if "-email" in name.lower() and value:
            return value[:255]
    return ""


@at_versions(
    router,
    "DELETE",
    "/task/{definition_id}/history/{run_id}",
    response=answers({200: TerminatedOut}, 403, 404),
    auth=runs_writer,
)
def stop_run(request: HttpRequest, definition_id: str, run_id: str):
    """Stop a run (admin or dev): it ends STOPPED, exit code 1, "Task terminated by user" (or
    "… by - <email>" from a `*-email` header). A STOPPED run is left as it is. Unlike the
    original, a run that does not exist (or is not this definition's) is a 404."""
    selectors.run_get(run_id=run_id, definition_id=definition_id)
    run_stop(run_id=run_id, reason=stop_reason(_email(request)))
    return {"terminated": True}
