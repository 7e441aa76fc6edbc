"""The retry sweep (beat: `runs.retry_sweep`): NEEDS_RETRY runs go back to QUEUED with a new
execution, oldest first, a batch per tick. The cap on retries is applied when an execution is
lost (domain/runs/hooks.py), so a run here always has one left."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from domain.runs import conf
from domain.runs.execute import execution_for_attempt
from domain.runs.models import Run, RunStatus
from domain.runs.status import run_transition

S = RunStatus


def runs_retry_due(*, limit: int = conf.RETRY_BATCH) -> list[str]:
    """Queue up to `limit` NEEDS_RETRY runs again; returns their ids. Each run is claimed with
    SKIP LOCKED in its own transaction, so overlapping sweeps never retry one run twice."""
    ids = list(
        Run.objects.filter(status=S.NEEDS_RETRY)
        .order_by("queued_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return [run_id for run_id in ids if run_retry(run_id=run_id)]


def run_retry(*, run_id: str) -> bool:
    """One NEEDS_RETRY run → QUEUED with its next attempt. False when another sweep (or a stop)
    got there first."""
    with transaction.atomic():
        run = (
            Run.objects.select_for_update(skip_locked=True)
            .filter(pk=run_id, status=S.NEEDS_RETRY)
            .first()
        )
        if run is None:
            return False
        attempt = run.attempt_count + 1
        execution = execution_for_attempt(run=run, attempt=attempt)
        updates = {
            "execution_id": execution.id,
            "attempt_count": attempt,
            "started_at": None,
            "finished_at": None,
            "exit_code": None,
            "exit_reason": "",
            "instance": "",
        }
        detail = {"attempt": attempt, "at": timezone.now().isoformat()}
        return run_transition(
            run_id=run_id, target=S.QUEUED, updates=updates, locked=run, detail=detail
        ).applied
