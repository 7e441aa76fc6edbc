"""domain/tracker/ratelimit.py: the Redis buckets stay valid at the extremes of rate and size."""

from __future__ import annotations

import pytest

from domain.tracker import ratelimit
from domain.tracker.errors import RateLimited

PROJECT = 987_654_321
YEAR_MS = 365 * 86400 * 1000


@pytest.fixture
def bucket(redis_client):
    key = f"tracker:rate:submit:{PROJECT}"
    redis_client.delete(key)
    yield key
    redis_client.delete(key)


def test_a_huge_reservation_at_the_slowest_rate_is_capped(redis_client, bucket):
    # 10^6 tokens at one per 10^6 s would be a 10^12 s debt: past what SET ... PX accepts.
    ratelimit.reserve(subject=PROJECT, kind="submit", rate=ratelimit.MIN_RATE, n=10**6)
    assert 0 < redis_client.pttl(bucket) <= YEAR_MS + 1000
    with pytest.raises(RateLimited) as refused:
        ratelimit.reserve(subject=PROJECT, kind="submit", rate=ratelimit.MIN_RATE)
    assert 0 < refused.value.delay <= 365 * 86400


def test_a_rate_below_the_minimum_is_treated_as_the_minimum(redis_client, bucket):
    # A row written before the API refused such rates must not break the bucket.
    ratelimit.reserve(subject=PROJECT, kind="submit", rate=1e-300)
    assert 0 < redis_client.pttl(bucket) <= YEAR_MS + 1000
    with pytest.raises(RateLimited) as refused:
        ratelimit.reserve(subject=PROJECT, kind="submit", rate=1e-300)
    assert 0 < refused.value.delay <= 1 / ratelimit.MIN_RATE


@pytest.mark.parametrize("rate", [0.0, -1.0, 1e-300, 5e-324, 9.99e-7])
def test_rates_too_slow_to_limit_are_not_valid_project_rates(rate):
    assert ratelimit.is_valid_rate(rate) is (rate <= 0)


@pytest.mark.parametrize("rate", [ratelimit.MIN_RATE, 1.0, ratelimit.INFINITE])
def test_valid_rates(rate):
    assert ratelimit.is_valid_rate(rate)
