"""Coalescing asks for the same idempotent task: a burst of asks sends one message.

The first ask sets a flag in Redis and sends the message; later asks see the flag and send
nothing; the task clears the flag before it does its work, so an ask arriving during its run
sends a new message and nothing asked for meanwhile is missed. The flag expires on its own, so a
lost message delays the work by at most the flag's lifetime. Without Redis every ask sends.
Used by the job lifecycle (orchestrator/lifecycles/jobs.py) and its task (orchestrator/tasks).
"""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)
FLAG_MS = 5000


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)


def first_ask(flag: str) -> bool:
    """True when no message for `flag` is pending: the caller sends one."""
    try:
        return bool(_redis().set(f"regatta:coalesce:{flag}", "1", nx=True, px=FLAG_MS))
    except redis.RedisError:
        return True


def asks_cleared(flag: str) -> None:
    """The work runs now: an ask from here on needs a message of its own."""
    try:
        _redis().delete(f"regatta:coalesce:{flag}")
    except redis.RedisError:
        logger.warning("could not clear %s; the next ask waits for it to expire", flag)
