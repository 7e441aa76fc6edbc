"""Release and task transitions. Where does a release change state? Here.

Every move of a release or a task, with the next step it schedules after commit (a typed step of
domain/releases/steps.py, turned into a canvas by orchestrator/lifecycles/releases.py). The
family's other writes have their own modules: task_services (registration), studies, records
(notes and events), reports (parsing what a service reports), sweeps (polls, timeouts, the
reconciler).

Lock order is always release row, then task rows: the "all tasks staged ⇒ release staged" and
"all published ⇒ published" decisions run under the release's row lock, so concurrent last
reports serialize and exactly one of them performs the release transition.
Steps are scheduled only after commit (`step_after_commit`), passing ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from domain.common.errors import Forbidden, IllegalTransition, NotFound
from domain.common.rows import row_save_fields
from domain.common.steps import step_after_commit
from domain.releases import conf, versions
from domain.releases.errors import FieldErrors
from domain.releases.machines import (
    RELEASE_LIVE,
    RELEASE_TERMINAL,
    TASK_DEAD,
    TASK_LIVE,
    TASK_MOVES,
    error_event,
    move_release,
    move_task,
)
from domain.releases.models import Release, ReleaseState, Task, TaskService, TaskState
from domain.releases.reports import progress_parse, report_is_stale, state_parse
from domain.releases.steps import (
    CancelRelease,
    InitializeTasks,
    PrepareRelease,
    SendPublish,
    SendStart,
)
from domain.releases.studies import studies_resolve
from domain.releases.task_services import task_service_subject

R = ReleaseState
T = TaskState
M = TypeVar("M", bound=Model)


def _lock_tasks(release_id: str, state: str) -> list[Task]:
    """The release's tasks in `state`, locked (the caller holds the release lock first)."""
    return list(
        Task.objects.select_for_update()
        .filter(release_id=release_id, state=state)
        .order_by("created_at")
    )


# The rows a report (PATCH or poll) reads and locks, as SQL: every report runs each of these
# once, and building them with the ORM cost more CPU than running them. A raw queryset still
# applies each field's conversions; the statements and their order are those the ORM sent.
# SQLite has no FOR UPDATE: its transactions take the database's write lock at BEGIN
# (transaction_mode IMMEDIATE, orchestrator/settings.py), which serializes reports already.
_LOCK_RELEASE_SQL = "SELECT * FROM releases_release WHERE kf_id = %s{for_update}"
_LOCK_TASK_SQL = "SELECT * FROM releases_task WHERE kf_id = %s{for_update}"
_REPORTED_TASK_SQL = (
    "SELECT kf_id, release_id, task_service_id, state, progress, reported_at"
    " FROM releases_task WHERE kf_id = %s"
)
_TASK_STATES_SQL = "SELECT state FROM releases_task WHERE release_id = %s"
# The task a report answers with, and its service's name (TaskOut's service_name).
_ANSWERED_TASK_SQL = (
    "SELECT t.*, s.name AS service_name FROM releases_task t"
    " JOIN releases_taskservice s ON s.kf_id = t.task_service_id WHERE t.kf_id = %s"
)


def _row(model: type[M], sql: str, pk: str) -> M:
    """The one row `sql` selects by primary key, as a model instance; NotFound without one."""
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    row = next(iter(model.objects.raw(sql.format(for_update=for_update), [pk])), None)
    if row is None:
        raise NotFound("Not found.")
    return row


def _answered_task(task_id: str) -> Task:
    """The task as it is now, with its service; the service's other fields load if read."""
    task = _row(Task, _ANSWERED_TASK_SQL, task_id)
    fields = ["kf_id", "name"]
    values = [task.task_service_id, task.service_name]
    task.task_service = TaskService.from_db(connection.alias, fields, values)
    return task


def _lock_release(release_id: str) -> Release:
    return _row(Release, _LOCK_RELEASE_SQL, release_id)


def _task_states(release_id: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute(_TASK_STATES_SQL, [release_id])
        return {state for (state,) in cur.fetchall()}


# --- releases ------------------------------------------------------------------------------------


def _next_version() -> str:
    latest = Release.objects.order_by("-created_at").values_list("version", flat=True).first()
    return "0.0.0" if latest is None else versions.next_patch(latest)


def release_create(
    *,
    name: str,
    studies: list[str],
    description: str = "",
    author: str = "admin",
    tags: list[str] | None = None,
    is_major: bool = False,
) -> Release:
    study_rows = studies_resolve(study_ids=studies)
    with transaction.atomic():
        release = Release.objects.create(
            name=name,
            description=description,
            author=author or "admin",
            tags=list(tags or []),
            is_major=is_major,
            version=_next_version(),
        )
        release.studies.set(study_rows)
        step_after_commit(PrepareRelease(release_id=release.kf_id))
    return release


def release_update(*, release_id: str, fields: dict[str, Any]) -> Release:
    fields = dict(fields)
    studies = fields.pop("studies", None)
    study_rows = studies_resolve(study_ids=studies) if studies is not None else None
    with transaction.atomic():
        release = _lock_release(release_id)
        row_save_fields(row=release, fields=fields)
        if study_rows is not None:
            release.studies.set(study_rows)
    return release


def release_prepare(*, release_id: str) -> list[str] | None:
    """waiting → initializing and one task per enabled service. With no enabled services the
    release goes straight on to staged (QUIRK fix: disabled-only services no longer strand it).
    Returns the task ids to initialize, or None when the release had already moved on."""
    with transaction.atomic():
        release = _lock_release(release_id)
        if release.state != R.WAITING:
            return None
        move_release(release_id, R.INITIALIZING)
        services = list(TaskService.objects.filter(enabled=True).order_by("created_at"))
        if not services:
            move_release(release_id, R.RUNNING)
            move_release(release_id, R.STAGED)
            return []
        tasks = Task.objects.bulk_create(
            [Task(release_id=release_id, task_service=s) for s in services]
        )
        ids = [t.kf_id for t in tasks]
        step_after_commit(InitializeTasks(release_id=release_id, task_ids=tuple(ids)))
        return ids


def task_mark_initialized(*, task_id: str) -> bool:
    return move_task(task_id, T.INITIALIZED).applied


def release_start(*, release_id: str) -> list[str]:
    """initializing → running once every task is initialized; every task moves to running in the
    same transaction and is marked as owing a `start` call. Returns the task ids to start."""
    with transaction.atomic():
        release = _lock_release(release_id)
        if release.state != R.INITIALIZING:
            return []
        states = list(Task.objects.filter(release_id=release_id).values_list("state", flat=True))
        if not states or any(s != T.INITIALIZED for s in states):
            return []
        move_release(release_id, R.RUNNING, locked=release)
        tasks = _lock_tasks(release_id, T.INITIALIZED)
        # The sweep skips a task until its service acknowledges `start`; the first poll is
        # then due a little under one interval later (tasks_acknowledge). Polls go at the
        # lowest broker priority, so a burst of them never delays an initialize or a start.
        first_check = _first_check_at()
        for task in tasks:
            move_task(
                task.pk,
                T.RUNNING,
                updates={"pending_action": "start", "next_check_at": first_check},
                locked=task,
            )
        ids = [task.pk for task in tasks]
        step_after_commit(SendStart(release_id=release_id, task_ids=tuple(ids)))
        return ids


def release_publish(*, release_id: str) -> Release:
    """staged → publishing (400 from any other state, nothing changed); every task staged →
    publishing, owing a `publish` call. A release without tasks is published at once."""
    with transaction.atomic():
        release = _lock_release(release_id)
        move_release(release_id, R.PUBLISHING, strict=True, locked=release)
        tasks = _lock_tasks(release_id, T.STAGED)
        first_check = _first_check_at()
        for task in tasks:
            move_task(
                task.pk,
                T.PUBLISHING,
                updates={"pending_action": "publish", "next_check_at": first_check},
                locked=task,
            )
        if not Task.objects.filter(release_id=release_id).exists():
            _complete(release_id, locked=release)
        else:
            ids = tuple(task.pk for task in tasks)
            step_after_commit(SendPublish(release_id=release_id, task_ids=ids))
    return Release.objects.get(pk=release_id)


def _complete(release_id: str, locked: Release | None = None) -> None:
    move_release(
        release_id,
        R.PUBLISHED,
        updates=lambda obj: {
            "version": versions.published_version(obj.version, is_major=obj.is_major)
        },
        locked=locked,
    )


def _release_follow_up(release: Release) -> None:
    """Under the release lock (`release` is the row as locked): move the release when its
    tasks say so."""
    if release.state not in (R.RUNNING, R.PUBLISHING):
        return
    states = _task_states(release.pk)
    if release.state == R.RUNNING and states == {T.STAGED}:
        move_release(release.pk, R.STAGED, locked=release)
    elif release.state == R.PUBLISHING and states == {T.PUBLISHED}:
        _complete(release.pk, locked=release)


def release_check_tasks(*, release_id: str) -> None:
    """Re-derive the release's next move from its tasks (status_checks trigger, reconciler)."""
    with transaction.atomic():
        release = _lock_release(release_id)
        dead = set(
            Task.objects.filter(release_id=release_id, state__in=TASK_DEAD).values_list(
                "state", flat=True
            )
        )
        if dead and release.state in RELEASE_LIVE:
            _begin_cancel(release, fail=bool(dead & {T.FAILED, T.REJECTED}))
        else:
            _release_follow_up(release)


# --- cancel and failure --------------------------------------------------------------------------


def _begin_cancel(release: Release, *, fail: bool) -> bool:
    """Caller holds the release lock. Returns whether the release moved to canceling."""
    current = Release.objects.get(pk=release.pk)
    if current.state in RELEASE_TERMINAL:
        return False
    outcome = R.FAILED if fail or current.cancel_outcome == R.FAILED else R.CANCELED
    if current.state == R.CANCELING:
        if outcome != current.cancel_outcome:
            Release.objects.filter(pk=release.pk).update(cancel_outcome=outcome)
        return False
    move_release(release.pk, R.CANCELING, updates={"cancel_outcome": outcome})
    # What to cancel is collected here, under the lock, and the canvas is built once from it.
    live = Task.objects.filter(release_id=release.pk, state__in=TASK_LIVE).order_by("created_at")
    task_ids = tuple(live.values_list("kf_id", flat=True))
    step_after_commit(CancelRelease(release_id=release.pk, task_ids=task_ids))
    return True


def release_cancel(*, release_id: str, fail: bool = False) -> Release:
    """DELETE /releases/{id}: canceling now, canceled (or failed) when the cancel step ends. A
    release already canceling or finished is left as it is (no new events)."""
    with transaction.atomic():
        release = _lock_release(release_id)
        _begin_cancel(release, fail=fail)
    return Release.objects.get(pk=release_id)


def task_mark_canceled(*, task_id: str) -> bool:
    return move_task(task_id, T.CANCELED, updates={"pending_action": ""}).applied


def release_cancel_finish(*, release_id: str) -> Release | None:
    """End of the cancel step: every live task canceled, the release canceled or failed."""
    with transaction.atomic():
        release = _lock_release(release_id)
        if release.state != R.CANCELING:
            return None
        for tid in Task.objects.filter(release_id=release_id, state__in=TASK_LIVE).values_list(
            "kf_id", flat=True
        ):
            move_task(tid, T.CANCELED, updates={"pending_action": ""})
        target = R.FAILED if release.cancel_outcome == R.FAILED else R.CANCELED
        move_release(release_id, target)
    return Release.objects.get(pk=release_id)


def _task_down(task_id: str, target: str, message: str | None) -> bool:
    """A task failed or was rejected: error event, the task moves, the release fails."""
    task = Task.objects.filter(pk=task_id).only("release_id").first()
    if task is None:
        return False
    with transaction.atomic():
        release = _lock_release(task.release_id)
        task = Task.objects.select_for_update().get(pk=task_id)
        if task.state not in TASK_MOVES[target]:
            return False
        if message:
            error_event(message, task=task)
        # The original's order (spec §7): the release starts canceling, then the task moves.
        _begin_cancel(release, fail=True)
        move_task(task_id, target, updates={"pending_action": ""})
        return True


def task_reject(*, task_id: str, message: str | None = None) -> bool:
    """initialize was refused: the task is rejected and the release fails."""
    return _task_down(task_id, T.REJECTED, message)


def task_fail(*, task_id: str, message: str | None = None) -> bool:
    return _task_down(task_id, T.FAILED, message)


def release_time_out(*, release_id: str, message: str, task_id: str | None = None) -> bool:
    """The release (or its task `task_id`) sat idle past its timeout: an error event, and a
    live release starts canceling. Returns whether it did."""
    with transaction.atomic():
        release = _lock_release(release_id)
        if release.state not in RELEASE_LIVE:
            return False
        task = Task.objects.get(pk=task_id) if task_id else None
        error_event(message, task=task, release_id=release_id)
        return _begin_cancel(release, fail=False)


# --- reports from task services (push PATCH and poll) --------------------------------------------

# What a task service may report: its answer to initialize (`pending` is `initialized`) and the
# outcomes of its work. Every other move (running, publishing) belongs to the coordinator, which
# makes it for the release as a whole; a service making it would strand the release.
SERVICE_REPORTS = frozenset(
    {T.INITIALIZED, T.STAGED, T.PUBLISHED, T.FAILED, T.CANCELED, T.REJECTED}
)
# A task reported down takes its release down: failed and rejected fail it, canceled cancels it.
_DOWN_FAILS = {T.FAILED: True, T.REJECTED: True, T.CANCELED: False}


def _reportable(current: str, target: str | None, *, strict: bool) -> str | None:
    """The target to apply, None for nothing to move; IllegalTransition (strict) names from/to."""
    if target is None or target == current:
        return None
    if target in SERVICE_REPORTS and current in TASK_MOVES[target]:
        return target
    if strict:
        raise IllegalTransition("task", current, target)
    return None


def task_report(
    *,
    task_id: str,
    state: Any = None,
    progress: Any = None,
    strict: bool = True,
    asked_at: datetime | None = None,
    reporter: str | None = None,
) -> Task:
    """A task service reports `state` and/or `progress` (PATCH /tasks/{id}, or a poll answer).

    Only SERVICE_REPORTS targets are accepted, and only as legal moves of the task state machine;
    the move is applied with its event; repeating the current state changes nothing; anything
    else raises IllegalTransition (strict, PATCH → 400) or is ignored (poll). A poll
    answer carries `asked_at`, when the poll was sent: its progress is dropped when a push
    arrived since, so a slow poll never rolls back a fresher pushed progress. `reporter` is the
    subject of the service token that reports (see service_subject): a service may report only
    its own tasks (Forbidden).
    Returns the task as it is now, with its service.
    """
    target = state_parse(state)
    number = progress_parse(progress)
    task = _row(Task, _REPORTED_TASK_SQL, task_id)
    if reporter is not None and reporter != task_service_subject(service_id=task.task_service_id):
        raise Forbidden("This token may update only its own task service's tasks.")
    if report_is_stale(task, asked_at):
        number = None
    # Refuse an illegal report before taking any lock.
    early = _reportable(task.state, target, strict=strict)
    if early is not None or (number is not None and number != task.progress):
        _apply_report(task.release_id, task_id, target, number, asked_at=asked_at, strict=strict)
    return _answered_task(task_id)


def _apply_report(
    release_id: str,
    task_id: str,
    target: str | None,
    number: int | None,
    *,
    asked_at: datetime | None,
    strict: bool,
) -> None:
    with transaction.atomic():
        release = _lock_release(release_id)
        task = _row(Task, _LOCK_TASK_SQL, task_id)
        target = _reportable(task.state, target, strict=strict)
        if report_is_stale(task, asked_at):
            number = None
        changes: dict[str, Any] = {"reported_at": timezone.now()} if asked_at is None else {}
        if number is not None and number != task.progress:
            changes["progress"] = number
        if target is None:
            if changes:
                Task.objects.filter(pk=task_id).update(**changes)
            return
        move_task(task_id, target, updates={"pending_action": "", **changes}, locked=task)
        if target in _DOWN_FAILS:
            _begin_cancel(release, fail=_DOWN_FAILS[target])
        else:
            _release_follow_up(release)


def _first_check_at() -> datetime:
    return timezone.now() + timedelta(seconds=conf.first_poll_after(conf.TASK_POLL_INTERVAL))


def tasks_acknowledge(*, task_ids: list[str], action: str) -> None:
    """The services answered `action` for these tasks: nothing is owed any more (one UPDATE for
    a whole batch; a report that arrived first has cleared it already).

    The answer was the task's status as of now (_deliver applies a state it names), so the
    first poll is due `conf.first_poll_after` later, not at the next sweep. In a publish burst
    of push services, polls at the next sweep had doubled the outbound calls."""
    if task_ids:
        Task.objects.filter(pk__in=task_ids, pending_action=action).update(
            pending_action="", next_check_at=_first_check_at()
        )


def task_create(
    *, release_id: str, task_service_id: str, state: str | None = None, progress: Any = 0
) -> Task:
    """POST /tasks (admin). The task starts `waiting`; a given `state` is then reported through
    the state machine like a service's report, with its event (IllegalTransition: nothing is
    written). The original wrote the state straight into the row, with no event."""
    target = state_parse(state)
    number = progress_parse(progress) or 0
    errors: dict[str, list[str]] = {}
    if not Release.objects.filter(pk=release_id).exists():
        errors["release"] = [f'Invalid hyperlink - Object "{release_id}" does not exist.']
    if not TaskService.objects.filter(pk=task_service_id).exists():
        errors["task_service"] = [f'Invalid hyperlink - Object "{task_service_id}" does not exist.']
    if errors:
        raise FieldErrors(errors)
    with transaction.atomic():
        task = Task.objects.create(
            release_id=release_id, task_service_id=task_service_id, progress=number
        )
        if target is not None:
            task_report(task_id=task.kf_id, state=target)
    return Task.objects.get(pk=task.kf_id)
