"""Thin Celery adapters of the Flotilla runs: the retry sweep (domain/runs/sweeps.py)."""

from __future__ import annotations

from domain.runs.sweeps import runs_retry_due
from orchestrator.taskkit import regatta_task


@regatta_task("runs.retry_sweep")
def retry_sweep(self) -> list[str]:
    """NEEDS_RETRY runs back to QUEUED with a new execution, oldest first, a batch per tick."""
    return runs_retry_due()
