"""Job canvases: one message per step of domain/jobs/steps.py.

    ScheduleJobs ─► jobs.schedule   (domain: jobs_schedule; beat sends it every second too)

Every queued job and every freed slot asks for a schedule: a burst of them (1,000 jobs queued
by a script, executions ending together) is coalesced into one message (orchestrator/coalesce.py).
A job's execution has its own canvases (orchestrator/lifecycles/executions.py).
"""

from __future__ import annotations

from domain.common.steps import step_handler
from domain.jobs import steps
from orchestrator.celery import app
from orchestrator.coalesce import first_ask

SCHEDULE_FLAG = "jobs.schedule"


@step_handler(steps.ScheduleJobs)
def schedule(step: steps.ScheduleJobs) -> None:
    if first_ask(SCHEDULE_FLAG):
        app.signature("jobs.schedule").apply_async(ignore_result=True)
