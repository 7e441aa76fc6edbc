"""/v6/jobs/…: queue a job, list and read jobs, their executions and input files, cancel and
requeue by filter; /v6/job-executions/{id}/logs/… (specs/scale-and-flotilla.md A.12).

Writes take an admin or dev token; reads any token (api/scale/auth.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from api.common.pagination import ScalePagination
from api.scale.answers import answers, family_url
from api.scale.auth import read_auth, write_auth
from api.scale.fields import given_fields
from api.scale.job_schemas import (
    JobDetailsOut,
    JobExecutionDetailsOut,
    JobExecutionOut,
    JobFilterIn,
    JobIn,
    JobOut,
    LogLineOut,
    RequeueIn,
    ScaleFileOut,
)
from api.scale.params import order_fields, order_param, parse_time, time_param
from domain.executions.selectors import execution_get, execution_log_chunks, stderr_flags
from domain.jobs import job_selectors, queueing
from domain.jobs.job_selectors import JobFilter
from domain.jobs.models import ErrorCategory, JobStatus

router = Router(tags=["jobs"])

ID_MAX = 2**63 - 1
EXE_NUM_MAX = 2**31 - 1
READ = (401, 404)
WRITE = (401, 403, 413)
STREAMS = ("stdout", "stderr", "combined")
REPEATABLE = Query(None, description="Repeatable.")
ORDER = order_param(job_selectors.JOB_ORDER_FIELDS)


def _choices_param(values: list[str]) -> Query:
    """A repeatable parameter whose values the document names (the view's annotation stays
    `list[str]`: a paginated view's annotations are resolved outside this module)."""
    param = Query(None, description="Repeatable.")
    param.json_schema_extra = {
        **(param.json_schema_extra or {}),
        "anyOf": [{"type": "array", "items": {"type": "string", "enum": values}}, {"type": "null"}],
    }
    return param


STATUSES = _choices_param(list(JobStatus.values))
CATEGORIES = _choices_param(list(ErrorCategory.values))


def _id() -> Path:
    return Path(..., ge=1, le=ID_MAX)


@router.post("/v6/jobs/", response=answers({201: JobDetailsOut}, *WRITE), auth=write_auth)
def queue_job(request: HttpRequest, response: HttpResponse, payload: JobIn):
    """Queue a job of an active job type with its input (Data JSON) and, optionally, its own
    configuration (sections it leaves out come from the job type's). 201 with `Location`.
    Admin or dev."""
    given = given_fields(payload)
    job = queueing.job_queue_new(
        job_type_id=given["job_type_id"],
        data=given["input"],
        configuration=given.get("configuration"),
    )
    response["Location"] = family_url(request, f"jobs/{job.pk}/")
    return Status(201, job_selectors.job_get(job_id=job.pk))


@router.get("/v6/jobs/", response=answers({200: list[JobOut]}, *READ), auth=read_auth)
@paginate(ScalePagination)
def list_jobs(
    request: HttpRequest,
    started: str | None = time_param(),
    ended: str | None = time_param(),
    status: list[str] | None = STATUSES,
    job_id: list[int] | None = REPEATABLE,
    job_type_id: list[int] | None = REPEATABLE,
    job_type_name: list[str] | None = REPEATABLE,
    batch_id: list[int] | None = REPEATABLE,
    recipe_id: list[int] | None = REPEATABLE,
    error_category: list[str] | None = CATEGORIES,
    error_id: list[int] | None = REPEATABLE,
    is_superseded: bool | None = Query(None),
    order: list[str] | None = ORDER,
):
    """Jobs matching every filter given, most recently changed first unless `order` says
    otherwise. `started`/`ended` bound `last_modified`."""
    filters = JobFilter(
        started=parse_time(started, name="started"),
        ended=parse_time(ended, name="ended"),
        statuses=status or (),
        job_ids=job_id or (),
        job_type_ids=job_type_id or (),
        job_type_names=job_type_name or (),
        batch_ids=batch_id or (),
        recipe_ids=recipe_id or (),
        error_categories=error_category or (),
        error_ids=error_id or (),
        is_superseded=is_superseded,
    )
    fields = order_fields(order, job_selectors.JOB_ORDER_FIELDS)
    return job_selectors.jobs_filtered(filters=filters, order=fields)


def _body_filter(given: dict) -> JobFilter:
    return JobFilter(
        started=parse_time(given.get("started"), name="started"),
        ended=parse_time(given.get("ended"), name="ended"),
        statuses=[given["status"]] if given.get("status") else (),
        job_ids=given.get("job_ids") or (),
        job_type_ids=given.get("job_type_ids") or (),
        job_types=[(t["name"], t["version"]) for t in given.get("job_types") or ()],
        job_type_names=given.get("job_type_names") or (),
        batch_ids=given.get("batch_ids") or (),
        recipe_ids=given.get("recipe_ids") or (),
        error_categories=given.get("error_categories") or (),
        error_ids=given.get("error_ids") or (),
        is_superseded=given.get("is_superseded"),
    )


@router.post("/v6/jobs/cancel/", response=answers({202: None}, *WRITE), auth=write_auth)
def cancel_jobs(request: HttpRequest, payload: JobFilterIn):
    """Cancel every job matching the filters (not COMPLETED or CANCELED ones); a running job's
    command is stopped. 202, no body. Admin or dev."""
    given = given_fields(payload)
    if "job_types" in given:
        given["job_types"] = [t.model_dump() for t in payload.job_types or ()]
    queueing.jobs_cancel(jobs=job_selectors.jobs_filtered(filters=_body_filter(given)))
    return Status(202, None)


@router.post("/v6/jobs/requeue/", response=answers({202: None}, *WRITE), auth=write_auth)
def requeue_jobs(request: HttpRequest, payload: RequeueIn):
    """Queue again every FAILED or CANCELED job matching the filters, each with a fresh budget
    of tries (`priority` replaces theirs when given). 202, no body. Admin or dev."""
    given = given_fields(payload)
    if "job_types" in given:
        given["job_types"] = [t.model_dump() for t in payload.job_types or ()]
    jobs = job_selectors.jobs_filtered(filters=_body_filter(given))
    queueing.jobs_requeue(jobs=jobs, priority=given.get("priority"))
    return Status(202, None)


@router.get("/v6/jobs/{job_id}/", response=answers({200: JobDetailsOut}, *READ), auth=read_auth)
def get_job(request: HttpRequest, job_id: int = _id()):
    """One job: its input, output, configuration, resources and latest execution."""
    return job_selectors.job_get(job_id=job_id)


@router.get(
    "/v6/jobs/{job_id}/input_files/",
    response=answers({200: list[ScaleFileOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def list_job_input_files(request: HttpRequest, job_id: int = _id()):
    """The files the job was given."""
    return job_selectors.job_input_files(job_id=job_id)


@router.get(
    "/v6/jobs/{job_id}/executions/",
    response=answers({200: list[JobExecutionOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def list_job_executions(
    request: HttpRequest, job_id: int = _id(), status: list[str] | None = STATUSES
):
    """Its executions, the latest first."""
    return job_selectors.job_executions(job_id=job_id, statuses=status or ())


@router.get(
    "/v6/jobs/{job_id}/executions/{exe_num}/",
    response=answers({200: JobExecutionDetailsOut}, *READ),
    auth=read_auth,
)
def get_job_execution(
    request: HttpRequest, job_id: int = _id(), exe_num: int = Path(..., ge=1, le=EXE_NUM_MAX)
):
    """Execution number `exe_num` of the job."""
    return job_selectors.job_execution_get(job_id=job_id, exe_num=exe_num)


@router.get(
    "/v6/job-executions/{job_exe_id}/logs/{stream}/",
    response=answers({200: list[LogLineOut], 204: None}, *READ),
    auth=read_auth,
)
def get_job_execution_logs(request: HttpRequest, stream: str, job_exe_id: int = _id()):
    """The execution's output as the original's JSON list of lines; 204 when there is none.
    `stdout` and `stderr` serve the lines of that stream, `combined` all of them in order; each
    line says its stream. The kubernetes engine joins stderr into stdout: its lines are all
    stdout."""
    if stream not in STREAMS:
        return Status(404, {"detail": "Not found."})
    record = job_selectors.job_execution_by_id(job_exe_id=job_exe_id)
    execution = execution_get(execution_id=record.execution_id)
    if execution.log_lines == 0:
        return HttpResponse(status=204)
    lines = _log_lines(record.pk, execution, stream)
    # The first line of the stream, if any, decides between 204 and a list.
    first = next(lines, None)
    if first is None:
        return HttpResponse(status=204)
    return StreamingHttpResponse(_json_list(first, lines), content_type="application/json")


def _json_list(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield "[" + first
    for line in rest:
        yield "," + line
    yield "]"


def _log_lines(job_exe_id: int, execution, stream: str) -> Iterator[str]:
    """The stream's lines, each as JSON, a chunk at a time: a long log is never whole in memory.
    `scale_order_num` is the line's place in the combined output, so the two streams merge."""
    stamp = (execution.finished_at or execution.started_at or execution.queued_at).isoformat()
    number = 0
    for text, stderr in execution_log_chunks(execution_id=execution.id):
        messages = text.split("\n")[:-1]
        for message, from_stderr in zip(messages, stderr_flags(stderr, len(messages)), strict=True):
            name = "stderr" if from_stderr else "stdout"
            if stream in ("combined", name):
                line = {
                    "message": message,
                    "@timestamp": stamp,
                    "scale_order_num": number,
                    "scale_task": execution.id,
                    "scale_job_exe": str(job_exe_id),
                    "scale_node": execution.host,
                    "stream": name,
                }
                yield json.dumps(line)
            number += 1


@router.get("/v6/files/", response=answers({200: list[ScaleFileOut]}, *READ), auth=read_auth)
@paginate(ScalePagination)
def list_files(
    request: HttpRequest,
    job_id: list[int] | None = REPEATABLE,
    job_output: list[str] | None = REPEATABLE,
):
    """Files in the workspaces: the jobs' inputs and the outputs they produced (filters
    `job_id`, `job_output`), newest first."""
    return job_selectors.scale_files(job_ids=job_id or (), job_outputs=job_output or ())


@router.get("/v6/files/{file_id}/", response=answers({200: ScaleFileOut}, *READ), auth=read_auth)
def get_file(request: HttpRequest, file_id: int = _id()):
    """One file: its workspace, path, size, media type, sha256 and the job that produced it."""
    return job_selectors.scale_file_get(file_id=file_id)
