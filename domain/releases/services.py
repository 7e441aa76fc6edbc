"""Every write of the releases family. Where does a release change state? Here.

Lock order is always release row, then task rows: the "all tasks staged ⇒ release staged" and
"all published ⇒ published" decisions run under the release's row lock, so concurrent last
reports serialize and exactly one of them performs the release transition.
Canvases are enqueued only after commit (`_after_commit`), passing ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from domain.common.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from domain.common.models import ApiToken, Role
from domain.common.tokens import Caller, IssuedToken, token_create
from domain.releases import versions
from domain.releases.errors import FieldErrors, field_error
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
from domain.releases.models import (
    Event,
    Release,
    ReleaseNote,
    ReleaseState,
    Study,
    Task,
    TaskService,
    TaskState,
)

logger = logging.getLogger(__name__)
R = ReleaseState
T = TaskState


def _after_commit(step: str, *args: Any) -> None:
    """Run `orchestrator.lifecycles.releases.<step>(*args)` once the transaction commits.

    A failed enqueue (the broker is down) never fails the caller: the state is committed
    already, a client told "500" would retry and create a duplicate, and the reconciler re-drives
    every release whose next step was lost."""

    def run() -> None:
        from orchestrator.lifecycles import releases as lifecycle

        try:
            getattr(lifecycle, step)(*args)
        except Exception:  # noqa: BLE001 (whatever the broker raised, the reconciler recovers)
            logger.warning(
                "could not enqueue releases step %s%r after commit; the reconciler re-drives it",
                step,
                args,
                exc_info=True,
            )

    transaction.on_commit(run)


def _lock_tasks(release_id: str, state: str) -> list[Task]:
    """The release's tasks in `state`, locked (the caller holds the release lock first)."""
    return list(
        Task.objects.select_for_update()
        .filter(release_id=release_id, state=state)
        .order_by("created_at")
    )


def _lock_release(release_id: str) -> Release:
    release = Release.objects.select_for_update().filter(pk=release_id).first()
    if release is None:
        raise NotFound("Not found.")
    return release


# --- releases ------------------------------------------------------------------------------------


def next_version() -> str:
    latest = Release.objects.order_by("-created_at").values_list("version", flat=True).first()
    return "0.0.0" if latest is None else versions.next_patch(latest)


def resolve_studies(study_ids: Iterable[str] | None) -> list[Study]:
    """The release's studies, or FieldErrors naming the missing ones (a 400, checked before the
    caller's group permission so a bad body is reported as such, not as a 403)."""
    ids = list(dict.fromkeys(study_ids or []))
    if not ids:
        raise field_error("studies", "Must have at least one study")
    found = {s.kf_id: s for s in Study.objects.filter(kf_id__in=ids)}
    missing = [sid for sid in ids if sid not in found]
    if missing:
        raise FieldErrors(
            {"studies": [f'Invalid pk "{sid}" - object does not exist.' for sid in missing]}
        )
    return [found[sid] for sid in ids]


def release_create(
    *,
    name: str,
    studies: list[str],
    description: str = "",
    author: str = "admin",
    tags: list[str] | None = None,
    is_major: bool = False,
) -> Release:
    study_rows = resolve_studies(studies)
    with transaction.atomic():
        release = Release.objects.create(
            name=name,
            description=description,
            author=author or "admin",
            tags=list(tags or []),
            is_major=is_major,
            version=next_version(),
        )
        release.studies.set(study_rows)
        _after_commit("prepare", release.kf_id)
    return release


def release_update(release_id: str, **fields: Any) -> Release:
    studies = fields.pop("studies", None)
    study_rows = resolve_studies(studies) if studies is not None else None
    with transaction.atomic():
        release = _lock_release(release_id)
        for name, value in fields.items():
            setattr(release, name, value)
        if fields:
            release.save(update_fields=list(fields))
        if study_rows is not None:
            release.studies.set(study_rows)
    return release


def release_prepare(release_id: str) -> list[str] | None:
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
        _after_commit("initialize", release_id, ids)
        return ids


def task_initialized(task_id: str) -> bool:
    return move_task(task_id, T.INITIALIZED).applied


def release_start(release_id: str) -> list[str]:
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
        # Due at the first sweep after `start` is acknowledged (the sweep skips a task until
        # then), so a poll-only service is seen within one poll interval. Polls go at the
        # lowest broker priority, so a burst of them never delays an initialize or a start.
        first_check = timezone.now()
        for task in tasks:
            move_task(
                task.pk,
                T.RUNNING,
                updates={"pending_action": "start", "next_check_at": first_check},
                locked=task,
            )
        ids = [task.pk for task in tasks]
        _after_commit("start", ids)
        return ids


def release_publish(release_id: str) -> Release:
    """staged → publishing (400 from any other state, nothing changed); every task staged →
    publishing, owing a `publish` call. A release without tasks is published at once."""
    with transaction.atomic():
        release = _lock_release(release_id)
        move_release(release_id, R.PUBLISHING, strict=True, locked=release)
        tasks = _lock_tasks(release_id, T.STAGED)
        now = timezone.now()
        for task in tasks:
            move_task(
                task.pk,
                T.PUBLISHING,
                updates={"pending_action": "publish", "next_check_at": now},
                locked=task,
            )
        if not Task.objects.filter(release_id=release_id).exists():
            _complete(release_id, locked=release)
        else:
            _after_commit("publish", [task.pk for task in tasks])
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
    states = set(Task.objects.filter(release_id=release.pk).values_list("state", flat=True))
    if release.state == R.RUNNING and states == {T.STAGED}:
        move_release(release.pk, R.STAGED, locked=release)
    elif release.state == R.PUBLISHING and states == {T.PUBLISHED}:
        _complete(release.pk, locked=release)


def release_check_tasks(release_id: str) -> None:
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
    _after_commit("cancel", release.pk)
    return True


def release_cancel(release_id: str, *, fail: bool = False) -> Release:
    """DELETE /releases/{id}: canceling now, canceled (or failed) when the cancel step ends. A
    release already canceling or finished is left as it is (no new events)."""
    with transaction.atomic():
        release = _lock_release(release_id)
        _begin_cancel(release, fail=fail)
    return Release.objects.get(pk=release_id)


def tasks_to_cancel(release_id: str) -> list[str]:
    if not Release.objects.filter(pk=release_id, state=R.CANCELING).exists():
        return []
    return list(
        Task.objects.filter(release_id=release_id, state__in=TASK_LIVE).values_list(
            "kf_id", flat=True
        )
    )


def task_mark_canceled(task_id: str) -> bool:
    return move_task(task_id, T.CANCELED, updates={"pending_action": ""}).applied


def release_cancel_finish(release_id: str) -> Release | None:
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


def task_reject(task_id: str, message: str | None = None) -> bool:
    """initialize was refused: the task is rejected and the release fails."""
    return _task_down(task_id, T.REJECTED, message)


def task_fail(task_id: str, message: str | None = None) -> bool:
    return _task_down(task_id, T.FAILED, message)


# --- reports from task services (push PATCH and poll) --------------------------------------------

_PROGRESS = re.compile(r"^\s*(-?\d+)\s*%?\s*$")


def parse_progress(value: Any) -> int | None:
    """`50`, `"50"` and `"50%"` are all 50 (#115). None means "not given"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise field_error("progress", "A valid integer is required.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _PROGRESS.match(value):
        number = int(_PROGRESS.match(value)[1])
    else:
        raise field_error("progress", "A valid integer is required.")
    if not 0 <= number <= 100:
        raise field_error("progress", "Ensure this value is between 0 and 100.")
    return number


def normalize_state(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise field_error("state", "Not a valid string.")
    state = value.strip().lower()
    # Task services answer `pending` after initialize; that is our `initialized`.
    if state == "pending":
        state = T.INITIALIZED
    if state not in T.values:
        raise field_error("state", f'"{value}" is not a valid choice.')
    return state


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


def _is_stale(task: Task, asked_at: datetime | None) -> bool:
    """A poll answer is stale when the service pushed a report after the poll was sent."""
    return asked_at is not None and task.reported_at is not None and task.reported_at > asked_at


def task_report(
    task_id: str,
    *,
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
    target = normalize_state(state)
    number = parse_progress(progress)
    task = (
        Task.objects.filter(pk=task_id)
        .only("release_id", "task_service_id", "state", "progress", "reported_at")
        .first()
    )
    if task is None:
        raise NotFound("Not found.")
    if reporter is not None and reporter != service_subject(task.task_service_id):
        raise Forbidden("This token may update only its own task service's tasks.")
    if _is_stale(task, asked_at):
        number = None
    # Refuse an illegal report before taking any lock.
    early = _reportable(task.state, target, strict=strict)
    if early is not None or (number is not None and number != task.progress):
        _apply_report(task.release_id, task_id, target, number, asked_at=asked_at, strict=strict)
    return Task.objects.select_related("task_service").get(pk=task_id)


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
        task = Task.objects.select_for_update().get(pk=task_id)
        target = _reportable(task.state, target, strict=strict)
        if _is_stale(task, asked_at):
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


def tasks_action_acknowledged(task_ids: list[str], action: str) -> None:
    """The services answered `action` for these tasks: nothing is owed any more (one UPDATE for
    a whole batch; a report that arrived first has cleared it already)."""
    if task_ids:
        Task.objects.filter(pk__in=task_ids, pending_action=action).update(pending_action="")


def task_create(
    *, release_id: str, task_service_id: str, state: str | None = None, progress: Any = 0
) -> Task:
    """POST /tasks (admin). The task starts `waiting`; a given `state` is then reported through
    the state machine like a service's report, with its event (IllegalTransition: nothing is
    written). The original wrote the state straight into the row, with no event."""
    target = normalize_state(state)
    number = parse_progress(progress) or 0
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
            task_report(task.kf_id, state=target)
    return Task.objects.get(pk=task.kf_id)


# --- task services -------------------------------------------------------------------------------


def service_subject(service_id: str) -> str:
    return f"task-service:{service_id}"


def caller_key(caller: Caller) -> str | None:
    """Who a caller is, as stored in TaskService.registered_by: the API token's id, or a JWT's
    subject. None for a JWT without a subject, which therefore owns nothing."""
    if isinstance(caller, ApiToken):
        return f"token:{caller.pk}"
    return f"oidc:{caller.subject}" if caller.subject else None


def task_service_authorize(*, service: TaskService, caller: Caller) -> None:
    """Forbidden unless `caller` may change or delete `service`: admins any, a dev only one it
    registered (never a row registered before registrants were recorded: its owner is unknown).
    The API asks before it contacts a new url; every write below asks again."""
    if caller.role == Role.ADMIN:
        return
    key = caller_key(caller)
    if key is None or service.registered_by != key:
        raise Forbidden("You may change only task services you registered.")


def task_service_create(
    *,
    name: str,
    url: str,
    author: str,
    description: str = "",
    enabled: bool = True,
    outbound_token: str = "",
    registered_by: str | None = None,
) -> tuple[TaskService, IssuedToken]:
    """Register a service and mint its inbound token (role service, bound to this service)."""
    with transaction.atomic():
        service = TaskService.objects.create(
            name=name,
            url=url,
            author=author,
            description=description,
            enabled=enabled,
            outbound_token=outbound_token,
            registered_by=registered_by,
        )
        issued = token_create(
            role="service", name=f"task service {name}"[:100], subject=service_subject(service.pk)
        )
    return service, issued


def _lock_service(service_id: str) -> TaskService:
    service = TaskService.objects.select_for_update().filter(pk=service_id).first()
    if service is None:
        raise NotFound("Not found.")
    return service


def task_service_update(*, service_id: str, caller: Caller, changes: dict[str, Any]) -> TaskService:
    """Apply `changes`. A new url drops the stored outbound token unless `changes` carries one:
    the token was given for the old host and must never be sent to another."""
    changes = dict(changes)
    with transaction.atomic():
        service = _lock_service(service_id)
        task_service_authorize(service=service, caller=caller)
        if changes.get("url", service.url) != service.url:
            changes.setdefault("outbound_token", "")
        for name, value in changes.items():
            setattr(service, name, value)
        if changes:
            service.save(update_fields=list(changes))
    return service


def task_service_delete(*, service_id: str, caller: Caller) -> None:
    """Delete the service (its tasks cascade) and revoke its inbound tokens. Refused (400) while
    any of its tasks belongs to a release that has not ended: deleting it would strand that
    release, which would wait for a service that no longer exists."""
    with transaction.atomic():
        # Under the row lock no task for this service can commit until we do: a prepare that
        # raced us fails its foreign-key check at commit, and the reconciler re-drives it
        # without this service.
        service = _lock_service(service_id)
        task_service_authorize(service=service, caller=caller)
        live = list(
            Task.objects.filter(task_service_id=service_id)
            .exclude(release__state__in=RELEASE_TERMINAL)
            .order_by("release_id")
            .values_list("release_id", flat=True)
            .distinct()
        )
        if live:
            raise InvalidInput(
                "This task service has tasks in releases that have not ended "
                f"({', '.join(live)}): cancel those releases or wait until they end."
            )
        service.delete()
        ApiToken.objects.filter(
            subject=service_subject(service_id), revoked_at__isnull=True
        ).update(revoked_at=timezone.now())


def record_health(service_id: str, *, ok: bool) -> None:
    if ok:
        TaskService.objects.filter(pk=service_id).update(last_ok_status=0)
    else:
        TaskService.objects.filter(pk=service_id).update(last_ok_status=F("last_ok_status") + 1)


# --- notes and events ----------------------------------------------------------------------------


def _check_note_refs(release_id: str | None, study_id: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if release_id is not None and not Release.objects.filter(pk=release_id).exists():
        errors["release"] = [f'Invalid hyperlink - Object "{release_id}" does not exist.']
    if study_id is not None and not Study.objects.filter(pk=study_id).exists():
        errors["study"] = [f'Invalid hyperlink - Object "{study_id}" does not exist.']
    in_release = Release.objects.filter(pk=release_id, studies__kf_id=study_id).exists
    if not errors and release_id and study_id and not in_release():
        errors["study"] = [f"Study {study_id} is not in release {release_id}."]
    return errors


def note_create(
    *, release_id: str, description: str = "", author: str = "admin", study_id: str | None = None
) -> ReleaseNote:
    errors = _check_note_refs(release_id, study_id)
    if errors:
        raise FieldErrors(errors)
    return ReleaseNote.objects.create(
        release_id=release_id, study_id=study_id, description=description, author=author or "admin"
    )


def note_update(note_id: str, **fields: Any) -> ReleaseNote:
    note = ReleaseNote.objects.filter(pk=note_id).first()
    if note is None:
        raise NotFound("Not found.")
    release_id = fields.get("release_id", note.release_id)
    study_id = fields.get("study_id", note.study_id)
    errors = _check_note_refs(release_id, study_id)
    if errors:
        raise FieldErrors(errors)
    for name, value in fields.items():
        setattr(note, name, value)
    if fields:
        note.save(update_fields=list(fields))
    return note


def event_create(**fields: Any) -> Event:
    refs = {
        "release": (Release, fields.get("release_id")),
        "task": (Task, fields.get("task_id")),
        "task_service": (TaskService, fields.get("task_service_id")),
        "study": (Study, fields.get("study_id")),
    }
    errors = {
        name: [f'Invalid hyperlink - Object "{pk}" does not exist.']
        for name, (model, pk) in refs.items()
        if pk is not None and not model.objects.filter(pk=pk).exists()
    }
    if errors:
        raise FieldErrors(errors)
    task_id = fields.get("task_id")
    if task_id and not fields.get("release_id"):
        # An event about a task belongs to that task's release and service too.
        task = Task.objects.get(pk=task_id)
        fields["release_id"] = task.release_id
        fields.setdefault("task_service_id", task.task_service_id)
        if fields["task_service_id"] is None:
            fields["task_service_id"] = task.task_service_id
    return Event.objects.create(**fields)


def update_row(model: type, pk: str, **fields: Any) -> Any:
    row = model.objects.filter(pk=pk).first()
    if row is None:
        raise NotFound("Not found.")
    for name, value in fields.items():
        setattr(row, name, value)
    if fields:
        row.save(update_fields=list(fields))
    return row


def delete_row(model: type, pk: str) -> None:
    deleted, _ = model.objects.filter(pk=pk).delete()
    if not deleted:
        raise NotFound("Not found.")


# --- studies -------------------------------------------------------------------------------------


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
STUDY_ID_MAX = Study._meta.get_field("kf_id").max_length
STUDY_NAME_MAX = Study._meta.get_field("name").max_length


def _as_bool(value: Any) -> bool | None:
    """A dataservice flag: a JSON bool, 0/1, or a word such as "false" (never truthiness, which
    would make the string "false" true). None when it is none of those."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower())
    return None


def _study_row(row: Any) -> tuple[str, dict[str, Any], datetime | None] | None:
    """(kf_id, fields to set, created_at) of one upstream row, or None to skip it. Upstream data
    is not ours to trust: a row whose id cannot be stored is skipped; a field that is unusable
    is left out (the stored or default value stays) rather than failing the whole sync."""
    if not isinstance(row, dict):
        return None
    kf_id = row.get("kf_id")
    if not isinstance(kf_id, str) or not 0 < len(kf_id) <= STUDY_ID_MAX or "\x00" in kf_id:
        return None
    fields: dict[str, Any] = {}
    name = row.get("name")
    if isinstance(name, str):
        fields["name"] = name.replace("\x00", "")[:STUDY_NAME_MAX]
    elif name is None:
        fields["name"] = ""
    visible = _as_bool(row.get("visible", True))
    if visible is not None:
        fields["visible"] = visible
    created = row.get("created_at")
    created_at = None
    if isinstance(created, str) and "\x00" not in created:
        try:
            created_at = parse_datetime(created)
        except (ValueError, OverflowError):
            created_at = None
        if created_at is not None and timezone.is_naive(created_at):
            created_at = timezone.make_aware(created_at, UTC)
    return kf_id, fields, created_at


def studies_upsert(rows: Iterable[Any], *, mark_missing_deleted: bool) -> dict[str, int]:
    """Mirror studies: create unknown ones, update name/visible, flag missing ones deleted."""
    seen: set[str] = set()
    new = 0
    with transaction.atomic():
        for raw in rows:
            parsed = _study_row(raw)
            if parsed is None:
                logger.warning("study sync skipped a row without a usable kf_id: %.200r", raw)
                continue
            kf_id, fields, created_at = parsed
            seen.add(kf_id)
            _, created = Study.objects.update_or_create(
                kf_id=kf_id,
                defaults=fields,
                create_defaults={**fields, "created_at": created_at or timezone.now()},
            )
            new += int(created)
        deleted = 0
        if mark_missing_deleted:
            deleted = (
                Study.objects.exclude(kf_id__in=seen).filter(deleted=False).update(deleted=True)
            )
    return {"new": new, "deleted": deleted}


# --- sweeps: poll, timeouts, reconcile -----------------------------------------------------------


def claim_due_polls(*, interval: float, limit: int = 500) -> list[str]:
    """Tasks whose status is due to be asked (running/publishing, start acknowledged). Claiming
    pushes next_check_at one interval ahead, so overlapping sweeps never double-poll."""
    now = timezone.now()
    # Half a second of slack so a beat tick that lands just early still polls this round.
    due = now + timedelta(seconds=min(0.5, interval / 4))
    with transaction.atomic():
        ids = list(
            Task.objects.select_for_update(skip_locked=True)
            .filter(state__in=(T.RUNNING, T.PUBLISHING), pending_action="")
            .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=due))
            .values_list("kf_id", flat=True)[:limit]
        )
        Task.objects.filter(pk__in=ids).update(next_check_at=now + timedelta(seconds=interval))
    return ids


def sweep_timeouts(*, task_timeout: float, release_timeout: float) -> dict[str, list[str]]:
    """Cancel the release of every task, and every release, idle past its timeout since its last
    transition (QUIRK fix: the task's own release is canceled, not a release with the task id)."""
    now = timezone.now()
    timed_out_tasks = list(
        Task.objects.filter(
            state__in=(T.WAITING, T.INITIALIZED, T.RUNNING, T.PUBLISHING),
            state_changed_at__lt=now - timedelta(seconds=task_timeout),
            release__state__in=RELEASE_LIVE,
        ).values_list("kf_id", "release_id", "state")
    )
    for task_id, release_id, state in timed_out_tasks:
        with transaction.atomic():
            release = _lock_release(release_id)
            if release.state in RELEASE_LIVE:
                task = Task.objects.get(pk=task_id)
                error_event(
                    f"task {task_id} timed out after {int(task_timeout)} s in state {state}",
                    task=task,
                )
                _begin_cancel(release, fail=False)
    stale = list(
        Release.objects.filter(state__in=(R.INITIALIZING, R.RUNNING, R.PUBLISHING))
        .filter(state_changed_at__lt=now - timedelta(seconds=release_timeout))
        .exclude(tasks__state_changed_at__gte=now - timedelta(seconds=release_timeout))
        .values_list("kf_id", flat=True)
        .distinct()
    )
    for release_id in stale:
        with transaction.atomic():
            release = _lock_release(release_id)
            if release.state in RELEASE_LIVE:
                error_event(
                    f"release {release_id} timed out after {int(release_timeout)} s",
                    release_id=release_id,
                )
                _begin_cancel(release, fail=False)
    return {"tasks": [t[0] for t in timed_out_tasks], "releases": stale}


def reconcile(*, stale_after: float, redrive: Callable[[str, str, list[str]], None]) -> list[str]:
    """Re-drive every release whose next step may have been lost (a Redis flush, a killed
    worker): nothing has happened to it for `stale_after` seconds. `redrive(release_id, step,
    task_ids)` enqueues the step. Steps are idempotent, so a needless re-drive is harmless."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    candidates = list(
        Release.objects.filter(
            state__in=(R.WAITING, R.INITIALIZING, R.RUNNING, R.PUBLISHING, R.CANCELING)
        )
        .alias(last=Greatest("state_changed_at", Coalesce("redriven_at", "state_changed_at")))
        .filter(last__lt=cutoff)
        .values_list("kf_id", flat=True)
    )
    redriven = []
    for release_id in candidates:
        step, task_ids = _next_step(release_id, cutoff)
        if step is None:
            continue
        claimed = (
            Release.objects.filter(pk=release_id)
            .filter(Q(redriven_at__isnull=True) | Q(redriven_at__lt=cutoff))
            .update(redriven_at=now)
        )
        if claimed:
            logger.info("reconciler re-drives %s: %s %s", release_id, step, task_ids)
            redrive(release_id, step, task_ids)
            redriven.append(release_id)
    return redriven


def _next_step(release_id: str, cutoff: Any) -> tuple[str | None, list[str]]:
    release = Release.objects.get(pk=release_id)
    tasks = list(
        Task.objects.filter(release_id=release_id).values_list(
            "kf_id", "state", "pending_action", "state_changed_at"
        )
    )
    states = {t[1] for t in tasks}
    if release.state == R.WAITING:
        return "prepare", []
    if release.state == R.CANCELING:
        return "cancel", []
    if states & TASK_DEAD:
        # A task is down but the release did not follow (a lost step): fail it now.
        return "fail", []
    if release.state == R.INITIALIZING:
        waiting = [t[0] for t in tasks if t[1] == T.WAITING]
        return ("initialize", waiting) if waiting else ("start", [])
    stuck = [t[0] for t in tasks if t[2] and t[3] < cutoff]
    if release.state == R.RUNNING:
        if states == {T.STAGED}:
            return "check", []
        return ("send_start", stuck) if stuck else (None, [])
    if release.state == R.PUBLISHING:
        if states <= {T.PUBLISHED}:
            return "check", []
        return ("send_publish", stuck) if stuck else (None, [])
    return None, []


def release_fail_for_dead_task(release_id: str) -> None:
    release_check_tasks(release_id)
