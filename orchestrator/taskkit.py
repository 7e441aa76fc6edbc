"""The one way Regatta declares a Celery task: explicit name, queue, retry backoff, time limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.celery import app

QUEUES = ("default", "outbound", "executions")


class TransientError(Exception):
    """A failure worth retrying: a connection error, a timeout, a 5xx from another service."""


def regatta_task(
    name: str,
    *,
    queue: str = "default",
    max_retries: int = 3,
    retry_backoff: int = 2,
    retry_backoff_max: int = 60,
    soft_time_limit: int = 60,
    time_limit: int = 90,
    autoretry_for: tuple[type[BaseException], ...] = (TransientError,),
    **options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task. The name is a wire contract (Flower shows it, beat schedules it).

    Tasks that raise one of `autoretry_for` are retried with exponential backoff and jitter; past
    `max_retries` the exception propagates to the caller's failure path.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; expected one of {QUEUES}")
    if "." not in name:
        raise ValueError(f"task name {name!r} must be dotted: '<family>.<action>'")
    return app.task(
        name=name,
        queue=queue,
        bind=True,
        autoretry_for=autoretry_for,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
        retry_backoff_max=retry_backoff_max,
        retry_jitter=True,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        **options,
    )
