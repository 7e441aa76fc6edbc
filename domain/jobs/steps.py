"""The next steps of jobs, as the domain names them (see domain/common/steps.py); turned into
Celery messages by orchestrator/lifecycles/jobs.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain.common.steps import Step


@dataclass(frozen=True)
class ScheduleJobs(Step):
    """Give queued jobs executions now (a job was queued, or a slot came free), rather than at
    the next beat."""

    family: ClassVar[str] = "jobs"
    name: ClassVar[str] = "schedule"
