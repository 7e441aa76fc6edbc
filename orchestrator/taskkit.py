"""The one way Regatta declares a Celery task: explicit name, queue, retry backoff, time limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import OperationalError

from orchestrator.celery import app

QUEUES = ("default", "outbound", "executions", "jobs")


# For tasks that are idempotent against the database (a sweep, a dispatch, a schedule pass): a
# deadlock victim or a dropped connection is tried again at once instead of waiting for the next
# beat or the reconciler.
RETRIED_ON_DATABASE_ERRORS: dict[str, Any] = {
    "autoretry_for": (OperationalError,),
    "max_retries": 5,
    "retry_backoff": 1,
}


class TransientError(Exception):
    """A failure worth retrying: a connection error, a timeout, a 5xx from another service."""


class PermanentError(Exception):
    """Another service answered, and the answer is a refusal (4xx, a wrong state, a bad body),
    or our outbound policy refused the call: retrying would get the same answer."""


def regatta_task(
    name: str,
    *,
    queue: str = "default",
    max_retries: int = 3,
    retry_backoff: int = 2,
    retry_backoff_max: int = 60,
    soft_time_limit: int = 60,
    time_limit: int = 90,
    autoretry_for: tuple[type[BaseException], ...] = (),
    bind: bool = True,
    **options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task. The name is a wire contract (Flower shows it, beat schedules it).

    Retrying is opt-in: a task that passes `autoretry_for=(TransientError,)` is retried with
    exponential backoff and jitter when it raises one of them; past `max_retries` the exception
    propagates to the caller's failure path. Without it a failure is final (most steps are
    compare-and-set transitions that record their own failures, and the reconciler re-drives
    a lost one). `bind=False` declares a function Celery may call as a new-style errback
    (`(request, exc, traceback, …)`).
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; expected one of {QUEUES}")
    if "." not in name:
        raise ValueError(f"task name {name!r} must be dotted: '<family>.<action>'")
    return app.task(
        name=name,
        queue=queue,
        bind=bind,
        autoretry_for=autoretry_for,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
        retry_backoff_max=retry_backoff_max,
        retry_jitter=True,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        **options,
    )
