"""Where a job changes status (specs/scale-and-flotilla.md A.9): the one transition function of
the aggregate — a compare-and-set through domain/common/transitions.py that stamps
`last_status_change` and writes a JobEvent row in the same transaction.

    PENDING ──queue──▶ QUEUED ──its execution runs──▶ RUNNING ──▶ COMPLETED | FAILED
                         ▲  └──────(late report)─────────────────▶ COMPLETED | FAILED
                         └── retry (a retryable error, tries left) · requeue (FAILED, CANCELED)
    anything but COMPLETED / CANCELED ──cancel──▶ CANCELED
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.utils import timezone

from domain.common.transitions import TransitionResult, transition
from domain.jobs.models import Job, JobEvent, JobStatus

S = JobStatus
CANCELABLE = (S.PENDING, S.BLOCKED, S.QUEUED, S.RUNNING, S.FAILED)
ENDABLE = (S.QUEUED, S.RUNNING)
REQUEUEABLE = (S.FAILED, S.CANCELED)


def job_transition(
    *,
    job_id: int,
    target: JobStatus,
    allowed_from: Iterable[JobStatus],
    event_type: str,
    updates: dict[str, Any] | Callable[[Job], dict[str, Any]] | None = None,
    description: str = "",
    locked: Job | None = None,
) -> TransitionResult:
    now = timezone.now()

    def stamped(job: Job) -> dict[str, Any]:
        extra = updates(job) if callable(updates) else (updates or {})
        return {"last_status_change": now, **extra}

    def on_applied(job: Job, source: str, new: str) -> None:
        job_event(
            job=job, event_type=event_type, description=description, source=source, target=new
        ).save()

    return transition(
        Job,
        pk=job_id,
        target=target,
        allowed_from=allowed_from,
        field_name="status",
        updates=stamped,
        on_applied=on_applied,
        detail={"event": event_type},
        locked=locked,
    )


def job_event(
    *, job: Job, event_type: str, description: str = "", source: str = "", target: str = ""
) -> JobEvent:
    """The event row of `job`'s current execution number, unsaved: a transition saves its own,
    the scheduler inserts a pass's at once (an event that is no status change)."""
    return JobEvent(
        job=job,
        type=event_type,
        source=source,
        target=target,
        exe_num=job.num_exes or None,
        description=description[:2000],
    )


def queued_updates(job: Job, *, now: Any) -> dict[str, Any]:
    """What every queueing writes (A.9): a new execution number, a clean slate."""
    return {
        "num_exes": job.num_exes + 1,
        "queued": now,
        "execution_id": "",
        "error": None,
        "node": "",
        "started": None,
        "ended": None,
    }
