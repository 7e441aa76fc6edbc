"""/project/*: create, update, get, list, access requests, secrets, monitoring, maintenance."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.openapi import (
    ANONYMOUS,
    SESSION,
    WORKER,
    AccessRequestIn,
    Doc,
    PathId,
    ProjectIn,
    ProjectUpdateIn,
    SecretIn,
    WebhookSecretIn,
    query_int,
)
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


@route(
    router,
    "/project/create",
    ("POST",),
    session=WRITES,
    doc=Doc(
        summary="Create a project (manager)",
        body=ProjectIn,
        errors=(400, 401, 403, 413),
        # Without a session the original answers 400 "You are not permitted…", not 401.
        security=(ANONYMOUS, SESSION),
    ),
)
def create(request: HttpRequest) -> HttpResponse:
    fields = ProjectFields(**decode(request, PROJECT_SPEC))
    project_id = project_create(manager=manager_from_request(request), fields=fields)
    return ok({"id": project_id})


@route(
    router,
    "/project/update/{pid}",
    ("POST",),
    session=WRITES,
    doc=Doc(
        summary="Update a project (EDIT role)",
        body=ProjectUpdateIn,
        errors=(400, 401, 403, 404, 413),
        security=(SESSION,),
    ),
)
def update(request: HttpRequest, pid: PathId) -> HttpResponse:
    project_id = _pid(pid)
    fields = ProjectFields(**decode(request, {**PROJECT_SPEC, "paused": BOOL}))
    project_update(manager=manager_from_request(request), project_id=project_id, fields=fields)
    return ok()


@route(
    router,
    "/project/get/{pid}",
    doc=Doc(
        summary="A project; a hidden one needs READ",
        errors=(400, 403, 404),
        security=(ANONYMOUS, SESSION),
    ),
)
def get(request: HttpRequest, pid: PathId) -> HttpResponse:
    project_id = positive_id(pid, "Invalid project id")
    project = project_get(project_id=project_id, manager=manager_from_request(request))
    return ok({"project": project})


@route(
    router,
    "/project/list",
    doc=Doc(summary="Projects the caller may see", security=(ANONYMOUS, SESSION)),
)
def list_projects(request: HttpRequest) -> HttpResponse:
    return ok({"projects": project_list(manager=manager_from_request(request))})


@route(
    router,
    "/project/request_access",
    ("POST",),
    doc=Doc(
        summary="Ask for assign and/or submit access (worker)",
        body=AccessRequestIn,
        errors=(400, 401, 404, 413),
        security=(WORKER,),
    ),
)
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


@route(
    router,
    "/project/accept_request/{pid}/{wid}",
    ("POST",),
    session=WRITES,
    doc=Doc(
        summary="Approve a worker's access request (MANAGE_ACCESS)",
        errors=(400, 401, 403, 404),
        security=(SESSION,),
    ),
)
def accept_request(request: HttpRequest, pid: PathId, wid: PathId) -> HttpResponse:
    project_id, worker_id = _pid(pid), positive_id(wid, INVALID)
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    if not access_accept(project_id=project_id, worker_id=worker_id):
        return envelope(False, message="Worker did not have access to this project")
    return ok()


@route(
    router,
    "/project/reject_request/{pid}/{wid}",
    ("POST",),
    session=WRITES,
    doc=Doc(
        summary="Reject or revoke a worker's access (MANAGE_ACCESS)",
        errors=(400, 401, 403, 404),
        security=(SESSION,),
    ),
)
def reject_request(request: HttpRequest, pid: PathId, wid: PathId) -> HttpResponse:
    project_id, worker_id = _pid(pid), positive_id(wid, INVALID)
    # The original checks nothing here; rejecting (or revoking) needs MANAGE_ACCESS.
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    if not access_reject(project_id=project_id, worker_id=worker_id):
        return envelope(False, message="Worker did not have access to this project")
    return ok()


@route(
    router,
    "/project/access_list/{pid}",
    doc=Doc(
        summary="Workers' access to a project (MANAGE_ACCESS)",
        errors=(400, 401, 403, 404),
        security=(SESSION,),
    ),
)
def accesses(request: HttpRequest, pid: PathId) -> HttpResponse:
    project_id = _pid(pid)
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    return ok({"accesses": access_list(project_id=project_id)})


@route(
    router, "/project/assignees/{pid}", doc=Doc(summary="Tasks held per worker", errors=(400, 404))
)
def assignees(request: HttpRequest, pid: PathId) -> HttpResponse:
    return ok({"assignees": project_assignees(project_id=_pid(pid))})


SECRET_READ = Doc(
    summary="The project secret: a worker with approved assign access, or SECRET role",
    errors=(400, 401, 403, 404),
    security=(WORKER, SESSION),
)
SECRET_WRITE = Doc(
    summary="Set the project secret (SECRET role)",
    body=SecretIn,
    errors=(400, 401, 403, 404, 413),
    security=(SESSION,),
)


@route(
    router,
    "/project/secret/{pid}",
    ("GET", "POST"),
    session=WRITES,
    doc={"GET": SECRET_READ, "POST": SECRET_WRITE},
)
def secret(request: HttpRequest, pid: PathId) -> HttpResponse:
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


WEBHOOK_READ = Doc(
    summary="The git webhook secret (SECRET role)",
    errors=(400, 401, 403, 404),
    security=(SESSION,),
)
WEBHOOK_WRITE = Doc(
    summary="Set the git webhook secret (SECRET role)",
    body=WebhookSecretIn,
    errors=(400, 401, 403, 404, 413),
    security=(SESSION,),
)


@route(
    router,
    "/project/webhook_secret/{pid}",
    ("GET", "POST"),
    session=WRITES,
    doc={"GET": WEBHOOK_READ, "POST": WEBHOOK_WRITE},
)
def webhook_secret(request: HttpRequest, pid: PathId) -> HttpResponse:
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


@route(
    router,
    "/project/monitoring/{pid}",
    doc=Doc(
        summary="The latest monitoring snapshots",
        errors=(400,),
        query=(query_int("count", 1, 999),),
    ),
)
def monitoring(request: HttpRequest, pid: PathId) -> HttpResponse:
    project_id = _pid(pid)
    count = _query_int(request, "count", 0, 1000)
    return ok({"snapshots": snapshots_latest(project_id=project_id, count=count)})


@route(
    router,
    "/project/monitoring-between/{pid}",
    doc=Doc(
        summary="Monitoring snapshots between two times (Unix seconds)",
        errors=(400,),
        query=(query_int("from", 1, 2147483646), query_int("to", 1, 2147483646)),
    ),
)
def monitoring_between(request: HttpRequest, pid: PathId) -> HttpResponse:
    project_id = _pid(pid)
    start = _query_int(request, "from", 0, 2147483647)
    end = _query_int(request, "to", 0, 2147483647)
    snapshots = snapshots_between(project_id=project_id, start=start, end=end)
    return ok({"snapshots": snapshots})


MAINTENANCE = Doc(
    summary="Maintenance on a project's tasks (MAINTENANCE role)",
    errors=(400, 401, 403, 404),
    security=(SESSION,),
)


def _maintenance(request: HttpRequest, pid: str, action) -> HttpResponse:
    project_id = _pid(pid)
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MAINTENANCE
    )
    return ok({"affected_tasks": action(project_id=project_id)})


@route(router, "/project/reset_failed_tasks/{pid}", ("POST",), session=WRITES, doc=MAINTENANCE)
def reset_failed_tasks(request: HttpRequest, pid: PathId) -> HttpResponse:
    return _maintenance(request, pid, project_reset_failed)


@route(router, "/project/hard_reset/{pid}", ("POST",), session=WRITES, doc=MAINTENANCE)
def hard_reset(request: HttpRequest, pid: PathId) -> HttpResponse:
    return _maintenance(request, pid, project_hard_reset)


@route(router, "/project/reclaim_assigned_tasks/{pid}", ("POST",), session=WRITES, doc=MAINTENANCE)
def reclaim_assigned_tasks(request: HttpRequest, pid: PathId) -> HttpResponse:
    return _maintenance(request, pid, project_reclaim_assigned)
