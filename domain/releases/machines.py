"""The release and task state machines: which moves are legal, and the event each move writes.

Every state change of this family goes through `move_release` / `move_task`, which call the
foundation's compare-and-set `transition()` and write the spec §7 event row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from domain.common.transitions import TransitionResult, transition
from domain.releases.models import Event, Release, ReleaseState, Task, TaskState

R = ReleaseState
T = TaskState

RELEASE_LIVE = frozenset({R.WAITING, R.INITIALIZING, R.RUNNING, R.STAGED, R.PUBLISHING})
RELEASE_TERMINAL = frozenset({R.PUBLISHED, R.CANCELED, R.FAILED})
RELEASE_MOVES: dict[str, frozenset[str]] = {
    R.INITIALIZING: frozenset({R.WAITING}),
    R.RUNNING: frozenset({R.INITIALIZING}),
    R.STAGED: frozenset({R.RUNNING}),
    R.PUBLISHING: frozenset({R.STAGED}),
    R.PUBLISHED: frozenset({R.PUBLISHING}),
    # canceling→canceling is legal in the original so a retry can re-fire; here a repeated cancel
    # is a no-op that writes no event (see services._begin_cancel).
    R.CANCELING: RELEASE_LIVE,
    R.CANCELED: frozenset({R.CANCELING}),
    R.FAILED: RELEASE_LIVE | {R.CANCELING},
}

TASK_DEAD = frozenset({T.REJECTED, T.FAILED, T.CANCELED})
TASK_LIVE = frozenset(T.values) - TASK_DEAD
TASK_MOVES: dict[str, frozenset[str]] = {
    T.INITIALIZED: frozenset({T.WAITING}),
    T.RUNNING: frozenset({T.INITIALIZED}),
    T.STAGED: frozenset({T.RUNNING}),
    T.PUBLISHING: frozenset({T.STAGED}),
    T.PUBLISHED: frozenset({T.PUBLISHING}),
    T.REJECTED: frozenset({T.WAITING}),
    T.FAILED: TASK_LIVE,
    T.CANCELED: TASK_LIVE,
}


def event_type_for(target: str) -> str:
    return "error" if target in (T.FAILED, T.REJECTED) else "info"


def _release_event(obj: Release, source: str, target: str) -> None:
    Event.objects.create(
        event_type=event_type_for(target),
        message=f"release {obj.kf_id}, version {obj.version} changed from {source} to {target}",
        release_id=obj.kf_id,
    )


def _task_event(obj: Task, source: str, target: str) -> None:
    Event.objects.create(
        event_type=event_type_for(target),
        message=f"task {obj.kf_id} changed from {source} to {target}",
        release_id=obj.release_id,
        task_id=obj.kf_id,
        task_service_id=obj.task_service_id,
    )


def _with_clock(updates: dict | Callable[[Any], dict] | None) -> Callable[[Any], dict]:
    def build(obj: Any) -> dict:
        extra = updates(obj) if callable(updates) else dict(updates or {})
        return {"state_changed_at": timezone.now(), **extra}

    return build


def move_release(
    pk: str,
    target: str,
    *,
    updates: dict | Callable[[Any], dict] | None = None,
    strict: bool = False,
    locked: Release | None = None,
) -> TransitionResult:
    return transition(
        Release,
        pk=pk,
        target=target,
        allowed_from=RELEASE_MOVES[target],
        updates=_with_clock(updates),
        on_applied=_release_event,
        strict=strict,
        locked=locked,
    )


def move_task(
    pk: str,
    target: str,
    *,
    updates: dict | Callable[[Any], dict] | None = None,
    strict: bool = False,
    locked: Task | None = None,
) -> TransitionResult:
    return transition(
        Task,
        pk=pk,
        target=target,
        allowed_from=TASK_MOVES[target],
        updates=_with_clock(updates),
        on_applied=_task_event,
        strict=strict,
        locked=locked,
    )


def error_event(message: str, *, task: Task | None = None, release_id: str | None = None) -> Event:
    """An error event that is not a transition (a failed request, a timeout)."""
    return Event.objects.create(
        event_type="error",
        message=message[:1000],
        release_id=task.release_id if task else release_id,
        task_id=task.kf_id if task else None,
        task_service_id=task.task_service_id if task else None,
    )
