"""Where an execution changes state: the one transition function of the aggregate.

A compare-and-set through domain/common/transitions.py, an ExecutionEvent row (the execution's
one log row per transition: no TransitionLog row beside it) and the owner's hook in the same
transaction. A redelivered message finds the state moved and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.utils import timezone

from domain.common.transitions import TransitionResult, transition
from domain.executions.models import Execution, ExecutionEvent, ExecutionState, Outcome
from domain.executions.owners import owner_notify


def execution_transition(
    *,
    execution_id: str,
    target: ExecutionState,
    allowed_from: Iterable[ExecutionState],
    updates: dict[str, Any] | Callable[[Execution], dict[str, Any]] | None = None,
    reason: str = "",
    message: str = "",
    locked: Execution | None = None,
) -> TransitionResult:
    def on_applied(execution: Execution, source: str, new: str) -> None:
        ExecutionEvent.objects.create(
            execution=execution,
            kind="transition",
            source=source,
            target=new,
            reason=reason[:255],
            message=message,
        )
        owner_notify(execution, source, new)

    return transition(
        Execution,
        pk=execution_id,
        target=target,
        allowed_from=allowed_from,
        updates=updates,
        on_applied=on_applied,
        locked=locked,
        log=False,
    )


def execution_event_add(*, execution_id: str, kind: str, reason: str, message: str = "") -> None:
    executions_event_add(execution_ids=[execution_id], kind=kind, reason=reason, message=message)


def executions_event_add(
    *, execution_ids: list[str], kind: str, reason: str, message: str = ""
) -> None:
    """The same event on each execution, in one insert."""
    now = timezone.now()
    ExecutionEvent.objects.bulk_create(
        ExecutionEvent(
            execution_id=execution_id, kind=kind, reason=reason[:255], message=message, at=now
        )
        for execution_id in execution_ids
    )


def ended_updates(
    *, outcome: Outcome, exit_code: int | None, reason: str, usage: dict | None = None
) -> dict[str, Any]:
    """The fields every ending writes (the supervisor, the sweeps and a stop share it)."""
    updates: dict[str, Any] = {
        "outcome": outcome,
        "exit_code": exit_code,
        "exit_reason": reason,
        "finished_at": timezone.now(),
    }
    if usage:
        updates["usage"] = usage
    return updates
