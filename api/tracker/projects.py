"""/project/*: create, update, get, list, access requests, secrets, monitoring, maintenance."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.origin import WRITES
from api.tracker.wire import (
    BOOL,
    F64,
    I64,
    STR,
    decode,
    envelope,
    ok,
    positive_id,
    route,
)
from domain.tracker.errors import TrackerError
from domain.tracker.managers import manager_from_request, manager_require_role
from domain.tracker.models import ROLE_MAINTENANCE, ROLE_MANAGE_ACCESS, ROLE_SECRET
from domain.tracker.monitoring import snapshots_between, snapshots_latest
from domain.tracker.projects import (
    ProjectFields,
    access_accept,
    access_list,
    access_reject,
    access_request,
    project_assignees,
    project_create,
    project_get,
    project_hard_reset,
    project_list,
    project_reclaim_assigned,
    project_reset_failed,
    project_secret,
    project_set_secret,
    project_update,
    project_webhook_secret,
    worker_may_read_secret,
)
from domain.tracker.workers import worker_authenticate

router = Router(tags=["projects"])

PROJECT_SPEC = {
    "name": STR,
    "clone_url": STR,
    "git_repo": STR,
    "version": STR,
    "priority": I64,
    "motd": STR,
    "public": BOOL,
    "hidden": BOOL,
    "chain": I64,
    "assign_rate": F64,
    "submit_rate": F64,
}
INVALID = "Invalid request"


def _pid(value: str) -> int:
    return positive_id(value, INVALID)


@route(router, "/project/create", ("POST",), session=WRITES)
def create(request: HttpRequest) -> HttpResponse:
    fields = ProjectFields(**decode(request, PROJECT_SPEC))
    project_id = project_create(manager=manager_from_request(request), fields=fields)
    return ok({"id": project_id})


@route(router, "/project/update/{pid}", ("POST",), session=WRITES)
def update(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = _pid(pid)
    fields = ProjectFields(**decode(request, {**PROJECT_SPEC, "paused": BOOL}))
    project_update(manager=manager_from_request(request), project_id=project_id, fields=fields)
    return ok()


@route(router, "/project/get/{pid}")
def get(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = positive_id(pid, "Invalid project id")
    project = project_get(project_id=project_id, manager=manager_from_request(request))
    return ok({"project": project})


@route(router, "/project/list")
def list_projects(request: HttpRequest) -> HttpResponse:
    return ok({"projects": project_list(manager=manager_from_request(request))})


@route(router, "/project/request_access", ("POST",))
def request_access(request: HttpRequest) -> HttpResponse:
    body = decode(request, {"assign": BOOL, "submit": BOOL, "project": I64})
    # The original refuses a request for nothing before it looks at who asks.
    if not body["assign"] and not body["submit"]:
        raise TrackerError(400, INVALID)
    worker = _worker(request, status=401)
    access_request(
        worker_id=worker.id,
        project_id=body["project"],
        assign=body["assign"],
        submit=body["submit"],
    )
    return ok()


def _worker(request: HttpRequest, *, status: int):
    return worker_authenticate(
        worker_id=request.META.get("HTTP_X_WORKER_ID"),
        secret=request.META.get("HTTP_X_SECRET"),
        status=status,
    )


@route(router, "/project/accept_request/{pid}/{wid}", ("POST",), session=WRITES)
def accept_request(request: HttpRequest, pid: str, wid: str) -> HttpResponse:
    project_id, worker_id = _pid(pid), positive_id(wid, INVALID)
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    if not access_accept(project_id=project_id, worker_id=worker_id):
        return envelope(False, message="Worker did not have access to this project")
    return ok()


@route(router, "/project/reject_request/{pid}/{wid}", ("POST",), session=WRITES)
def reject_request(request: HttpRequest, pid: str, wid: str) -> HttpResponse:
    project_id, worker_id = _pid(pid), positive_id(wid, INVALID)
    # The original checks nothing here; rejecting (or revoking) needs MANAGE_ACCESS.
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    if not access_reject(project_id=project_id, worker_id=worker_id):
        return envelope(False, message="Worker did not have access to this project")
    return ok()


@route(router, "/project/access_list/{pid}")
def accesses(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = _pid(pid)
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    return ok({"accesses": access_list(project_id=project_id)})


@route(router, "/project/assignees/{pid}")
def assignees(request: HttpRequest, pid: str) -> HttpResponse:
    return ok({"assignees": project_assignees(project_id=_pid(pid))})


@route(router, "/project/secret/{pid}", ("GET", "POST"), session=WRITES)
def secret(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = _pid(pid)
    if request.method == "POST":
        body = decode(request, {"secret": STR})
        manager_require_role(
            manager=manager_from_request(request), project_id=project_id, role=ROLE_SECRET
        )
        project_set_secret(project_id=project_id, field="secret", value=body["secret"])
        return ok()
    _authorize_secret_read(request, project_id)
    return ok({"secret": project_secret(project_id=project_id)})


def _authorize_secret_read(request: HttpRequest, project_id: int) -> None:
    try:
        worker = _worker(request, status=403)
    except TrackerError:
        # No valid worker: a manager session with the SECRET role may read it instead.
        manager_require_role(
            manager=manager_from_request(request), project_id=project_id, role=ROLE_SECRET
        )
        return
    if not worker_may_read_secret(worker_id=worker.id, project_id=project_id):
        raise TrackerError(403, "Unauthorized")


@route(router, "/project/webhook_secret/{pid}", ("GET", "POST"), session=WRITES)
def webhook_secret(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = _pid(pid)
    body = decode(request, {"webhook_secret": STR}) if request.method == "POST" else None
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_SECRET
    )
    if body is not None:
        project_set_secret(
            project_id=project_id, field="webhook_secret", value=body["webhook_secret"]
        )
        return ok()
    return ok({"webhook_secret": project_webhook_secret(project_id=project_id)})


def _query_int(request: HttpRequest, name: str, low: int, high: int) -> int:
    raw = request.GET.get(name, "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or not low < int(raw) < high:
        raise TrackerError(400, INVALID)
    return int(raw)


@route(router, "/project/monitoring/{pid}")
def monitoring(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = _pid(pid)
    count = _query_int(request, "count", 0, 1000)
    return ok({"snapshots": snapshots_latest(project_id=project_id, count=count)})


@route(router, "/project/monitoring-between/{pid}")
def monitoring_between(request: HttpRequest, pid: str) -> HttpResponse:
    project_id = _pid(pid)
    start = _query_int(request, "from", 0, 2147483647)
    end = _query_int(request, "to", 0, 2147483647)
    snapshots = snapshots_between(project_id=project_id, start=start, end=end)
    return ok({"snapshots": snapshots})


def _maintenance(request: HttpRequest, pid: str, action) -> HttpResponse:
    project_id = _pid(pid)
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MAINTENANCE
    )
    return ok({"affected_tasks": action(project_id=project_id)})


@route(router, "/project/reset_failed_tasks/{pid}", ("POST",), session=WRITES)
def reset_failed_tasks(request: HttpRequest, pid: str) -> HttpResponse:
    return _maintenance(request, pid, project_reset_failed)


@route(router, "/project/hard_reset/{pid}", ("POST",), session=WRITES)
def hard_reset(request: HttpRequest, pid: str) -> HttpResponse:
    return _maintenance(request, pid, project_hard_reset)


@route(router, "/project/reclaim_assigned_tasks/{pid}", ("POST",), session=WRITES)
def reclaim_assigned_tasks(request: HttpRequest, pid: str) -> HttpResponse:
    return _maintenance(request, pid, project_reclaim_assigned)
