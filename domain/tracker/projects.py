"""Projects: creation and update (with role checks), reads, worker access requests, secrets, and
the maintenance resets of a project's tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, QuerySet

from domain.tracker import ratelimit
from domain.tracker.errors import TrackerError
from domain.tracker.managers import manager_require_role, manager_role
from domain.tracker.models import (
    FAILED,
    NEW,
    ROLE_ALL,
    ROLE_EDIT,
    ROLE_READ,
    Manager,
    ManagerRole,
    Project,
    Task,
    WorkerAccess,
)
from domain.tracker.sql.common import PROJECT_KEYS, PROJECT_SELECT
from domain.tracker.workers import worker_json


@dataclass(frozen=True)
class ProjectFields:
    name: str
    clone_url: str
    git_repo: str
    version: str
    priority: int
    motd: str
    public: bool
    hidden: bool
    chain: int
    assign_rate: float
    submit_rate: float
    paused: bool = False

    def valid(self) -> bool:
        return (
            bool(self.name)
            and self.priority >= 0
            and not (self.public and self.hidden)
            and ratelimit.is_valid_rate(self.assign_rate)
            and ratelimit.is_valid_rate(self.submit_rate)
        )

    def columns(self) -> dict:
        values = dict(self.__dict__)
        values["chain_id"] = values.pop("chain") or None
        # A rate of 0 means "no limit", stored as the largest float as the original shows it.
        for key in ("assign_rate", "submit_rate"):
            if values[key] <= 0:
                values[key] = ratelimit.INFINITE
        return values


def project_get(*, project_id: int, manager: Manager | None) -> dict:
    found = _projects("p.id = %(project)s", {"project": project_id})
    if not found:
        raise TrackerError(404, "Project not found")
    project = found[0]
    if project["hidden"] and not manager_role(manager=manager, project_id=project_id) & ROLE_READ:
        raise TrackerError(403, "Unauthorized")
    return project


# Visible to the caller: every project to a tracker admin; otherwise the ones not hidden and those
# the manager holds the read role on.
_VISIBLE = """
%(admin)s OR NOT p.hidden OR EXISTS (
    SELECT 1 FROM tracker_managerrole r
    WHERE r.project_id = p.id AND r.manager_id = %(manager)s AND (r.role & %(read)s) <> 0
)
"""


def project_list(*, manager: Manager | None) -> list[dict]:
    """The projects the caller may see, by name: one query, whatever their number."""
    admin = manager is not None and manager.tracker_admin
    manager_id = None if manager is None else manager.pk
    return _projects(_VISIBLE, {"admin": admin, "manager": manager_id, "read": ROLE_READ})


def _projects(where: str, params: dict) -> list[dict]:
    """The wire objects of the projects matching `where` (SQL over `p`), by name."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {PROJECT_SELECT} FROM tracker_project p WHERE {where} ORDER BY p.name",  # noqa: S608
            params,
        )
        return [dict(zip(PROJECT_KEYS, row, strict=True)) for row in cur.fetchall()]


INVALID_PROJECT = "Invalid project"


def project_create(*, manager: Manager | None, fields: ProjectFields) -> int:
    # The original judges the fields before it looks at who asks.
    if not fields.valid():
        raise TrackerError(400, INVALID_PROJECT)
    if manager is None:
        raise TrackerError(400, "You are not permitted to create a project with this configuration")
    if fields.public and not manager.tracker_admin:
        raise TrackerError(400, "You are not permitted to create a project with this configuration")
    if (
        fields.chain
        and manager_role(manager=manager, project_id=fields.chain) & ROLE_EDIT != ROLE_EDIT
    ):
        raise TrackerError(400, "You are not permitted to create a project with this configuration")
    if fields.chain and not Project.objects.filter(pk=fields.chain).exists():
        raise TrackerError(400, "You are not permitted to create a project with this configuration")
    try:
        with transaction.atomic():
            project = Project.objects.create(**fields.columns(), webhook_secret=str(uuid.uuid4()))
            ManagerRole.objects.create(manager=manager, project=project, role=ROLE_ALL)
    except IntegrityError:
        raise TrackerError(
            400, 'pq: duplicate key value violates unique constraint "project_name_key"'
        ) from None
    return project.id


def project_update(*, manager: Manager | None, project_id: int, fields: ProjectFields) -> None:
    if not fields.valid() or fields.chain == project_id:
        raise TrackerError(400, INVALID_PROJECT)
    if not Project.objects.filter(pk=project_id).exists():
        raise TrackerError(404, "Project not found")
    manager_require_role(manager=manager, project_id=project_id, role=ROLE_EDIT)
    if fields.chain:
        if not Project.objects.filter(pk=fields.chain).exists():
            raise TrackerError(400, "Invalid request")
        manager_require_role(manager=manager, project_id=fields.chain, role=ROLE_EDIT)
    try:
        with transaction.atomic():
            Project.objects.filter(pk=project_id).update(**fields.columns())
    except IntegrityError:
        raise TrackerError(
            400, 'pq: duplicate key value violates unique constraint "project_name_key"'
        ) from None
    ratelimit.drop(project_id=project_id)


# The original answered a duplicate name with 500 (its generic DB-error path); bad input never
# gets a 500 here, so it is a 400 with the same text.

_ACCESS_REFUSED = (
    "Project is public, you already have an active request or you already have access to this "
    "project"
)


def access_request(*, worker_id: int, project_id: int, assign: bool, submit: bool) -> None:
    if not Project.objects.filter(pk=project_id).exists():
        raise TrackerError(400, _ACCESS_REFUSED)
    try:
        with transaction.atomic():
            WorkerAccess.objects.create(
                worker_id=worker_id,
                project_id=project_id,
                role_assign=assign,
                role_submit=submit,
                request=True,
            )
    except IntegrityError:
        raise TrackerError(400, _ACCESS_REFUSED) from None


def access_accept(*, project_id: int, worker_id: int) -> bool:
    return (
        WorkerAccess.objects.filter(project_id=project_id, worker_id=worker_id).update(
            request=False
        )
        == 1
    )


def access_reject(*, project_id: int, worker_id: int) -> bool:
    deleted, _ = WorkerAccess.objects.filter(project_id=project_id, worker_id=worker_id).delete()
    return deleted > 0


def access_list(*, project_id: int) -> list[dict]:
    rows = WorkerAccess.objects.filter(project_id=project_id).select_related("worker")
    return [
        {
            "submit": a.role_submit,
            "assign": a.role_assign,
            "request": a.request,
            "worker": worker_json(a.worker),
            "project": project_id,
        }
        for a in rows.order_by("id")
    ]


def worker_may_read_secret(*, worker_id: int, project_id: int) -> bool:
    # Unlike the original, a request still pending does not unlock the secret.
    return WorkerAccess.objects.filter(
        worker_id=worker_id, project_id=project_id, role_assign=True, request=False
    ).exists()


def project_secret(*, project_id: int) -> str:
    secret = Project.objects.filter(pk=project_id).values_list("secret", flat=True).first()
    if secret is None:
        raise TrackerError(404, "Project not found")
    return secret


def project_set_secret(*, project_id: int, field: str, value: str) -> None:
    if Project.objects.filter(pk=project_id).update(**{field: value}) != 1:
        raise TrackerError(404, "Project not found")


def project_webhook_secret(*, project_id: int) -> str:
    value = Project.objects.filter(pk=project_id).values_list("webhook_secret", flat=True).first()
    if value is None:
        raise TrackerError(404, "Project not found")
    return value


def project_assignees(*, project_id: int) -> list[dict]:
    # One row per worker (two workers may share an alias such as "default_alias"), plus one
    # for the unassigned tasks; ties in the count are ordered by worker id to keep it stable,
    # the unassigned row last (PostgreSQL's default for NULLs; SQLite's is first).
    rows = (
        Task.objects.filter(project_id=project_id)
        .values("assignee_id", "assignee__alias")
        .annotate(task_count=Count("id"))
        .order_by("task_count", F("assignee_id").asc(nulls_last=True))[:16]
    )
    return [
        {
            "assignee": "unassigned" if r["assignee_id"] is None else r["assignee__alias"],
            "task_count": r["task_count"],
        }
        for r in rows
    ]


def _tasks_retry(tasks: QuerySet[Task]) -> int:
    """FAILED → NEW with retries 0: the task is handed out again as if new."""
    return tasks.filter(status=FAILED).update(status=NEW, retries=0)


def project_reset_failed(*, project_id: int) -> int:
    return _tasks_retry(Task.objects.filter(project_id=project_id))


def tasks_retry_failed(*, task_ids: list[int]) -> int:
    """The operator console's per-task retry (`project_reset_failed` does a whole project)."""
    return _tasks_retry(Task.objects.filter(pk__in=task_ids))


def project_reclaim_assigned(*, project_id: int) -> int:
    return Task.objects.filter(project_id=project_id, status=NEW, assignee__isnull=False).update(
        assignee=None, assign_time=None
    )


def project_hard_reset(*, project_id: int) -> int:
    # Deleting without closing: nothing is counted and nothing chains. One DELETE, not the ORM's:
    # its delete() would load every task to cascade verifications the database removes itself.
    with connection.cursor() as cur:
        cur.execute("DELETE FROM tracker_task WHERE project_id = %s", [project_id])
        return cur.rowcount
