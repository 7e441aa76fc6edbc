"""Job canvases: one message per step of domain/jobs/steps.py.

    ScheduleJobs ─► jobs.schedule   (domain: jobs_schedule; beat sends it every second too)

Every queued job and every freed slot asks for a schedule: a burst of them (1,000 jobs queued
by a script, executions ending together) is coalesced into one message. The first ask sets a
flag in Redis and sends the message; later asks see the flag and send nothing; the task clears
the flag before it looks at the queue, so an ask that arrives during its run sends a new
message and nothing queued meanwhile waits for the beat. The flag expires on its own, so a
lost message delays scheduling by at most `PENDING_FLAG_MS` (or one beat).

A job's execution has its own canvases (orchestrator/lifecycles/executions.py).
"""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.conf import settings

from domain.common.steps import step_handler
from domain.jobs import steps
from orchestrator.celery import app

logger = logging.getLogger(__name__)
PENDING_FLAG = "regatta:jobs:schedule-pending"
PENDING_FLAG_MS = 5000


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)


@step_handler(steps.ScheduleJobs)
def schedule(step: steps.ScheduleJobs) -> None:
    try:
        first = _redis().set(PENDING_FLAG, "1", nx=True, px=PENDING_FLAG_MS)
    except redis.RedisError:
        first = True  # Coalescing is an optimisation: without Redis, send anyway.
    if first:
        app.signature("jobs.schedule").apply_async(ignore_result=True)


def schedule_flag_clear() -> None:
    """The schedule runs now: an ask from here on needs a run of its own."""
    try:
        _redis().delete(PENDING_FLAG)
    except redis.RedisError:
        logger.warning("could not clear the schedule flag; the next ask waits for it to expire")
