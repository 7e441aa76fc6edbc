"""Tasks only the test suite's workers load (see the live_worker fixture)."""

from __future__ import annotations

import redis
from django.conf import settings

from orchestrator.taskkit import TransientError, regatta_task


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@regatta_task(
    "testapp.flaky",
    autoretry_for=(TransientError,),
    max_retries=3,
    retry_backoff=1,
    retry_backoff_max=1,
)
def flaky(self, key: str, failures: int) -> int:
    """Fails with a transient error `failures` times, then returns the attempt number."""
    return _count_attempt(key, failures)


@regatta_task("testapp.fragile", max_retries=3, retry_backoff=1, retry_backoff_max=1)
def fragile(self, key: str, failures: int) -> int:
    """As flaky, declared without opting in to retries."""
    return _count_attempt(key, failures)


def _count_attempt(key: str, failures: int) -> int:
    attempt = _redis().incr(key)
    if attempt <= failures:
        raise TransientError(f"attempt {attempt} failed")
    return attempt
