"""Job canvases: one message per step of domain/jobs/steps.py.

    ScheduleJobs ─► jobs.schedule   (domain: jobs_schedule; beat sends it every second too)

A job's execution has its own canvases (orchestrator/lifecycles/executions.py).
"""

from __future__ import annotations

from domain.common.steps import step_handler
from domain.jobs import steps
from orchestrator.celery import app


@step_handler(steps.ScheduleJobs)
def schedule(step: steps.ScheduleJobs) -> None:
    app.signature("jobs.schedule").apply_async(ignore_result=True)
