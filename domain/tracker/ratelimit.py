"""Token buckets in Redis (per project, and per client address for /worker/create), shared by
every web process and host.

Each bucket is a GCRA "theoretical arrival time" (TAT) under one key. A request for n tokens is
admitted when the bucket is not in debt (TAT <= now) and then pushes TAT forward by n intervals:
burst 1 for single requests as in the original, while a bulk submit of n tasks pays for all n
and later callers wait until that debt is paid. A refused caller learns the exact wait. Time is
Redis's own clock, so several hosts agree.

Redis holds the TAT as an integer and its TTL in milliseconds, and Lua turns numbers past about
1e14 into "1e+14", which SET refuses. So projects may not have a positive rate below MIN_RATE,
and a bucket's debt is capped at MAX_DEBT_US whatever the rate and the number of tokens.

A granted token is never given back (no refund on "No task available" or a failed submit):
the original's Reservation.Cancel restores nothing for a token granted at once, so there an
empty project polled by many workers is limited like any other, and clients back off on it.
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

# ARGV: interval (us), tokens, the debt cap (us), the debt admitted at once (us; 0 = burst 1).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local tolerance = tonumber(ARGV[4])
if tat - now > tolerance then
  return tat - now - tolerance
end
local debt = math.min(tonumber(ARGV[1]) * tonumber(ARGV[2]), tonumber(ARGV[3]))
local new_tat = math.max(tat, now) + debt
local ttl = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl)
return 0
"""


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)


@lru_cache(maxsize=1)
def _reserve_script():
    return _client().register_script(_RESERVE)


def _key(subject: int | str, kind: str) -> str:
    return f"tracker:rate:{kind}:{subject}"


def _interval_us(rate: float) -> int:
    # Rows written before MIN_RATE existed may hold a slower rate: treat it as MIN_RATE.
    return max(1, int(1_000_000 / max(rate, MIN_RATE)))


def is_limited(rate: float) -> bool:
    return 0 < rate < INFINITE


def is_valid_rate(rate: float) -> bool:
    """A project's rate: 0 or less (no limit) or at least MIN_RATE events per second."""
    return not 0 < rate < MIN_RATE


def reserve(*, subject: int | str, kind: str, rate: float, n: int = 1, burst: int = 1) -> None:
    """Take n tokens from the subject's bucket (a project id, or a client address) or raise
    RateLimited with the seconds to wait. A granted token is never given back, as in the
    original. `burst` requests may come at once before the rate applies."""
    if not is_limited(rate):
        return
    interval = _interval_us(rate)
    wait_us = int(
        _reserve_script()(
            keys=[_key(subject, kind)],
            args=[interval, n, MAX_DEBT_US, interval * max(burst - 1, 0)],
        )
    )
    if wait_us > 0:
        raise RateLimited(wait_us / 1_000_000)


def drop(*, project_id: int) -> None:
    """Forget both buckets, as /project/update does in the original."""
    _client().delete(_key(project_id, "assign"), _key(project_id, "submit"))
