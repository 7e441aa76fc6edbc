"""/task/*: submit, bulk_submit (submit permission), get/:project and release (assign)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.bulk import body_text, bulk_items, cyclic_gc_paused
from api.tracker.openapi import WORKER, BulkSubmitIn, Doc, PathId, ReleaseIn, SubmitIn
from api.tracker.wire import (
    I16,
    I64,
    STR,
    convert,
    decode,
    decode_object,
    envelope,
    ok,
    positive_id,
    read_body,
    route,
)
from domain.tracker import conf
from domain.tracker.errors import SubmitUnauthorized, TrackerError
from domain.tracker.queue import (
    SubmitRequest,
    task_assign,
    task_bulk_submit,
    task_release,
    worker_may_submit,
)
from domain.tracker.queue import task_submit as queue_submit
from domain.tracker.workers import worker_is_paused

router = Router(tags=["tasks"])

SUBMIT_SPEC = {
    "project": I64,
    "max_retries": I16,
    "recipe": STR,
    "priority": I16,
    "max_assign_time": I64,
    "hash_u64": I64,
    "unique_string": STR,
    "verification_count": I16,
}
_SLOTS = {key: (i, kind) for i, (key, kind) in enumerate(SUBMIT_SPEC.items())}
_INT_BOUNDS = {I16: 1 << 15, I64: 1 << 63}


def _submit_request(item: object) -> SubmitRequest:
    """`decode_object(item, SUBMIT_SPEC)` unrolled for speed: a bulk submit decodes 100,000."""
    if type(item) is not dict:
        return SubmitRequest(**decode_object(item, SUBMIT_SPEC))
    values: list = [0, 0, "", 0, 0, 0, "", 0]
    for key, value in item.items():
        slot = _SLOTS.get(key) or _SLOTS.get(key.lower())
        if slot is None:
            continue
        i, kind = slot
        if kind == STR:
            ok_fast = type(value) is str and value.isascii() and "\x00" not in value
        else:
            bound = _INT_BOUNDS[kind]
            ok_fast = type(value) is int and -bound <= value < bound
        values[i] = value if ok_fast else convert(kind, value)
    return SubmitRequest._make(values)


RELEASE_SPEC = {"task_id": I64, "result": I64, "verification": I64}


@route(
    router,
    "/task/submit",
    ("POST",),
    worker=401,
    doc=Doc(
        summary="Submit one task",
        body=SubmitIn,
        errors=(400, 401, 404, 413, 429),
        security=(WORKER,),
    ),
)
def submit(request: HttpRequest) -> HttpResponse:
    req = SubmitRequest(**decode(request, SUBMIT_SPEC))
    queue_submit(worker_id=request.auth.id, req=req)
    return ok()


@route(
    router,
    "/task/bulk_submit",
    ("POST",),
    worker=401,
    doc=Doc(
        summary="Submit many tasks of one project; 200 with ok false when none went in",
        body=BulkSubmitIn,
        errors=(400, 401, 404, 413, 429),
        security=(WORKER,),
    ),
)
def bulk_submit(request: HttpRequest) -> HttpResponse:
    # Who may submit is judged before the body is read: a worker without any submit role gets
    # its answer without the server reading, let alone parsing, up to TRACKER_BULK_MAX_BYTES.
    try:
        if not worker_may_submit(worker_id=request.auth.id):
            raise SubmitUnauthorized()
        items = bulk_items(
            body_text(read_body(request, conf.BULK_MAX_BYTES)),
            _submit_request,
            item_limit=conf.BULK_MAX_TASK_BYTES,
            max_items=conf.BULK_MAX_TASKS,
        )
        with cyclic_gc_paused():
            result = task_bulk_submit(worker_id=request.auth.id, reqs=items)
    except SubmitUnauthorized as exc:
        # A bulk submit reports what happened (the QUIRK fix): here, nothing went in.
        return envelope(False, message=exc.message, content={"inserted": 0, "duplicates": 0})
    content = {"inserted": result.inserted, "duplicates": result.duplicates}
    if result.inserted == 0:
        return envelope(False, message="No task was inserted", content=content)
    return ok(content)


@route(
    router,
    "/task/get/{project}",
    worker=403,
    doc=Doc(
        summary="Take the next task of a project; 200 with ok false when there is none",
        errors=(400, 403, 404, 429),
        security=(WORKER,),
    ),
)
def get(request: HttpRequest, project: PathId) -> HttpResponse:
    try:
        project_id = positive_id(project, "Invalid project id")
    except TrackerError:
        # The original says "paused" before it looks at the project id.
        if worker_is_paused(worker_id=request.auth.id):
            raise TrackerError(400, "A manager has paused you") from None
        raise
    task = task_assign(worker_id=request.auth.id, project_id=project_id)
    if task is None:
        return envelope(False, message="No task available")
    return ok({"task": task})


@route(
    router,
    "/task/release",
    ("POST",),
    worker=403,
    doc=Doc(
        summary="Release a task: 0 OK, 1 FAIL, 2 SKIP",
        body=ReleaseIn,
        errors=(400, 403, 413),
        security=(WORKER,),
    ),
)
def release(request: HttpRequest) -> HttpResponse:
    body = decode(request, RELEASE_SPEC)
    updated = task_release(
        worker_id=request.auth.id,
        task_id=body["task_id"],
        result=body["result"],
        verification=body["verification"],
    )
    if not updated:
        return envelope(True, message="Task was not marked as closed", content={"updated": False})
    return ok({"updated": True})
