"""Thin Celery adapters of Scale jobs (domain/jobs). Canvases: orchestrator/lifecycles/jobs.py."""

from __future__ import annotations

from domain.jobs.load import job_load_measure
from domain.jobs.scheduling import jobs_schedule
from orchestrator.coalesce import asks_cleared
from orchestrator.taskkit import RETRIED_ON_DATABASE_ERRORS, regatta_task


# Idempotent: jobs are taken with SKIP LOCKED, each type's count under its row lock.
@regatta_task("jobs.schedule", queue="jobs", expires=10, **RETRIED_ON_DATABASE_ERRORS)
def schedule(self) -> int:
    """Give queued jobs executions, as many as the jobs cluster has free slots."""
    asks_cleared("jobs.schedule")
    return jobs_schedule()


@regatta_task("jobs.measure_load")
def measure_load(self) -> int:
    """Count pending, queued and running jobs for /v6/load/."""
    return job_load_measure().queued_count
