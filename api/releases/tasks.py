"""/tasks: one per release and task service. PATCH is the push channel of task services."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from api.common.pagination import ReleasesPagination
from api.releases.auth import admin_auth, task_writer_auth, trigger_auth
from api.releases.errors import SELECT_VALID, MethodNotAllowed, answers
from api.releases.links import ref
from api.releases.queue import queue_required
from api.releases.schemas import (
    KfId,
    StatusOut,
    TaskIn,
    TaskOut,
    TaskPatch,
    choice_in,
    filter_in,
    provided,
)
from domain.common.errors import NotFound
from domain.common.models import Role
from domain.common.tokens import Caller
from domain.releases import selectors, services, sweeps
from domain.releases.errors import FieldErrors, field_error
from domain.releases.models import Release, Task, TaskService, TaskState

router = Router(tags=["tasks"])


def _get(kf_id: str) -> Task:
    task = selectors.tasks().filter(pk=kf_id).first()
    if task is None:
        raise NotFound("Not found.")
    return task


@router.get("/tasks", response=answers({200: list[TaskOut]}), url_name="task-list")
@paginate(ReleasesPagination)
def list_tasks(
    request: HttpRequest,
    release: str | None = filter_in(),
    task_service: str | None = filter_in(),
    state: str | None = choice_in(TaskState.values),
):
    qs = selectors.tasks()
    errors: dict[str, list[str]] = {}
    if release:
        if not Release.objects.filter(pk=release).exists():
            errors["release"] = [SELECT_VALID]
        qs = qs.filter(release_id=release)
    if task_service:
        if not TaskService.objects.filter(pk=task_service).exists():
            errors["task_service"] = [SELECT_VALID]
        qs = qs.filter(task_service_id=task_service)
    if state:
        if state not in TaskState.values:
            errors["state"] = [SELECT_VALID]
        qs = qs.filter(state=state)
    if errors:
        raise FieldErrors(errors)
    return qs


@router.post("/tasks", response=answers({201: TaskOut}, 403, 413), auth=admin_auth)
def create_task(request: HttpRequest, payload: TaskIn):
    task = services.task_create(
        release_id=ref(payload.release, "release", "RE", required=True),
        task_service_id=ref(payload.task_service, "task_service", "TS", required=True),
        state=payload.state,
        progress=payload.progress if payload.progress is not None else 0,
    )
    return Status(201, _get(task.kf_id))


@router.post(
    "/tasks/status_checks", response=answers({200: StatusOut}, 403, 503), auth=trigger_auth
)
def task_status_checks(request: HttpRequest):
    """Compatibility trigger (beat polls anyway): ask every running/publishing task's service."""
    with queue_required():
        count = sweeps.tasks_check_status()
    return {"status": "ok", "message": f"{count} task to check"}


@router.get("/tasks/{kf_id}", response=answers({200: TaskOut}, 404), url_name="task-detail")
def get_task(request: HttpRequest, kf_id: KfId):
    return _get(kf_id)


def _reporter(token: Caller) -> str | None:
    """The subject a service token is bound to (None: an admin, who may report any task).
    A JWT's principal is never a service (the roles claim maps to admin/dev/user only)."""
    return token.subject if token.role == Role.SERVICE else None


def _report(request: HttpRequest, kf_id: str, fields: dict) -> Task:
    unknown = set(fields) - {"state", "progress"}
    if unknown:
        raise FieldErrors({k: ["This field is read-only."] for k in sorted(unknown)})
    if "state" in fields and fields["state"] is None:
        raise field_error("state", "This field may not be null.")
    task = services.task_report(
        task_id=kf_id,
        state=fields.get("state"),
        progress=fields.get("progress"),
        reporter=_reporter(request.auth),
    )
    return task


@router.patch(
    "/tasks/{kf_id}",
    response=answers({200: TaskOut}, 403, 404, 413),
    auth=task_writer_auth,
    url_name="task-patch",
)
def patch_task(request: HttpRequest, kf_id: KfId, payload: TaskPatch):
    """Report state and/or progress. Only legal moves of the task state machine are accepted
    (400 names the from and to states); repeating the current state is a no-op."""
    return _report(request, kf_id, provided(payload))


@router.put(
    "/tasks/{kf_id}", response=answers({200: TaskOut}, 403, 404, 413), auth=task_writer_auth
)
def put_task(request: HttpRequest, kf_id: KfId, payload: TaskPatch):
    return _report(request, kf_id, provided(payload))


# Tasks end with their release: no DELETE (a method the document does not list). OPTIONS too,
# so its `Allow` names only what the document does.
@router.api_operation(["DELETE", "OPTIONS"], "/tasks/{kf_id}", include_in_schema=False)
def delete_task(request: HttpRequest, kf_id: str):
    raise MethodNotAllowed(request.method, allowed=("GET", "PATCH", "PUT"))
