"""The Scale v6 wire family: /v6/job-type-names/, /v6/job-types/…, /v6/workspaces/… (and the
same at /v7/, orchestrator/urls.py). Errors: `{"detail": …}`; pages: `page`/`page_size`.
Jobs: /v6/jobs/…, /v6/job-executions/{id}/logs/…, /v6/queue/status/, /v6/load/ and the job
types' statistics (/v6/job-types/status/ …)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from api.common.families import Family, build_family_api, first_message
from api.common.tokens import token_router
from api.scale.screening import StrictJsonParser, input_problem

FAMILY = Family(
    name="scale",
    title="Regatta — Scale v6 job types and jobs API",
    version="6",
    description="Job types described by Seed manifests, their versions, revisions and "
    "validation, the workspaces their files go to, and the jobs that run them. Every /v6/ "
    "path is served the same at /v7/. Reads and `/validation` take any API token; writes an "
    "admin or dev token.",
    error_body=lambda message, status: {"detail": message},
    validation_body=lambda errors: {"detail": first_message(errors)},
)


class ErrorOut(Schema):
    detail: str


api = build_family_api(FAMILY, parser=StrictJsonParser())
api.add_router("/_/scale", token_router(FAMILY.name, ErrorOut))


def _screen_input(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every operation, before parsing or auth: a NUL anywhere, or a body that is no JSON
    object, is a 400 (api/scale/screening.py)."""

    @wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            problem = input_problem(request)
        except Exception as exc:  # noqa: BLE001 (a body too large: the family's 413)
            problem = exc
        if problem is not None:
            return api.on_exception(request, problem)
        return run(request, *args, **kwargs)

    return checked


api.add_decorator(_screen_input, mode="view")

_not_found = Router()


@_not_found.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/v6/{path:rest}", include_in_schema=False
)
def unknown_path(request: HttpRequest, rest: str):
    """Any other path under the family's prefix: the family's own 404, not Django's page."""
    return api.create_response(request, {"detail": "Not found."}, status=404)


def _mount() -> None:
    from api.scale import job_statistics, job_types, jobs, workspaces

    # The statistics first: /v6/job-types/status/ would otherwise be a job type's versions.
    for module in (job_statistics, job_types, jobs, workspaces):
        api.add_router("", module.router)
    api.add_router("", _not_found)


_mount()
