"""Where a run's status changes: one compare-and-set, forward only.

Precedence (spec B.6): QUEUED < PENDING < RUNNING < STOPPED, so a late or repeated message can
never move a run back (a STOPPED run never becomes RUNNING again). NEEDS_RETRY is accepted from
every other status, and every status may follow it (the retry sweep queues the run again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.common.transitions import TransitionResult, transition
from domain.runs.models import Run, RunStatus

S = RunStatus
PRECEDENCE = {S.NEEDS_RETRY: -1, S.QUEUED: 0, S.PENDING: 1, S.RUNNING: 2, S.STOPPED: 3}


def sources_for(target: str) -> tuple[str, ...]:
    """The statuses a run may move to `target` from."""
    if target == S.NEEDS_RETRY:
        return tuple(s for s in PRECEDENCE if s != S.NEEDS_RETRY)
    rank = PRECEDENCE[S(target)]
    return tuple(s for s, r in PRECEDENCE.items() if r < rank)


def run_transition(
    *,
    run_id: str,
    target: str,
    updates: dict[str, Any] | Callable[[Run], dict[str, Any]] | None = None,
    detail: dict | None = None,
    locked: Run | None = None,
) -> TransitionResult:
    """Move the run to `target` if precedence allows, with `updates`, and log it; a move the
    precedence refuses is a no-op (`applied=False`), never an error."""
    return transition(
        Run,
        pk=run_id,
        target=target,
        allowed_from=sources_for(target),
        field_name="status",
        updates=updates,
        detail=detail,
        locked=locked,
    )
