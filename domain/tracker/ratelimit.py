"""Per-project token buckets in Redis, shared by every web process and host.

Each bucket is a GCRA "theoretical arrival time" (TAT) under one key. A request for n tokens is
admitted when the bucket is not in debt (TAT <= now) and then pushes TAT forward by n intervals:
burst 1 for single requests as in the original, while a bulk submit of n tasks pays for all n
and later callers wait until that debt is paid. A refused caller learns the exact wait. Time is
Redis's own clock, so several hosts agree.

Redis holds the TAT as an integer and its TTL in milliseconds, and Lua turns numbers past about
1e14 into "1e+14", which SET refuses. So projects may not have a positive rate below MIN_RATE,
and a bucket's debt is capped at MAX_DEBT_US whatever the rate and the number of tokens.
"""

from __future__ import annotations

import sys
from functools import lru_cache

import redis
from django.conf import settings

from domain.tracker.errors import RateLimited

INFINITE = sys.float_info.max
# The slowest finite rate a project may have: one event every ~11.6 days.
MIN_RATE = 1e-6
# The longest a bucket can be in debt (one year); past it a bulk of n tasks waits no longer.
MAX_DEBT_US = 365 * 86400 * 1_000_000

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return tat - now
end
local debt = math.min(tonumber(ARGV[1]) * tonumber(ARGV[2]), tonumber(ARGV[3]))
local new_tat = now + debt
local ttl = math.ceil(debt / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl)
return 0
"""

_REFUND = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
local new_tat = tat - math.min(tonumber(ARGV[1]) * tonumber(ARGV[2]), tonumber(ARGV[3]))
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1000 end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl)
return 0
"""


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)


@lru_cache(maxsize=1)
def _scripts():
    client = _client()
    return client.register_script(_RESERVE), client.register_script(_REFUND)


def _key(project_id: int, kind: str) -> str:
    return f"tracker:rate:{kind}:{project_id}"


def _interval_us(rate: float) -> int:
    # Rows written before MIN_RATE existed may hold a slower rate: treat it as MIN_RATE.
    return max(1, int(1_000_000 / max(rate, MIN_RATE)))


def is_limited(rate: float) -> bool:
    return 0 < rate < INFINITE


def is_valid_rate(rate: float) -> bool:
    """A project's rate: 0 or less (no limit) or at least MIN_RATE events per second."""
    return not 0 < rate < MIN_RATE


def reserve(project_id: int, kind: str, rate: float, n: int = 1) -> None:
    """Take n tokens or raise RateLimited with the seconds to wait."""
    if not is_limited(rate):
        return
    reserve_script, _ = _scripts()
    wait_us = int(
        reserve_script(keys=[_key(project_id, kind)], args=[_interval_us(rate), n, MAX_DEBT_US])
    )
    if wait_us > 0:
        raise RateLimited(wait_us / 1_000_000)


def refund(project_id: int, kind: str, rate: float, n: int = 1) -> None:
    """Give back tokens of a reservation that did nothing (no task, failed submit)."""
    if not is_limited(rate):
        return
    _, refund_script = _scripts()
    refund_script(keys=[_key(project_id, kind)], args=[_interval_us(rate), n, MAX_DEBT_US])


def drop(project_id: int) -> None:
    """Forget both buckets, as /project/update does in the original."""
    _client().delete(_key(project_id, "assign"), _key(project_id, "submit"))
