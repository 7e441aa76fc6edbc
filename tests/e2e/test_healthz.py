"""/healthz on the production web server: 200 only when database, broker and a worker are up.

The worker ping is shared by every web process for HEALTHZ_CACHE_SECONDS; the tests count the
pings the broker carries rather than timing anything.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import redis
import requests

from tests.support.processes import free_port, start_web, start_worker, suite_redis_url

# A Redis db of its own, so the session's worker (on another db) cannot answer these pings:
# Celery's broadcast channels are prefixed by the db number: the health checks get their own.
HEALTH_REDIS_OFFSET = 2

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def isolated_env(subprocess_env):
    url = suite_redis_url(HEALTH_REDIS_OFFSET)
    redis.Redis.from_url(url).flushdb()
    return dict(subprocess_env, REDIS_URL=url)


def _health(web, *, deep: bool = False) -> requests.Response:
    params = {"deep": "1"} if deep else {}
    return requests.get(web.info["url"] + "/healthz", params=params, timeout=15)


def _workers(resp: requests.Response) -> dict:
    return resp.json()["checks"]["workers"]


class PingCounter:
    """Counts the worker pings the broker carries: each is one message on the pidbox broadcast
    channel of the broker's db, which this subscribes to before any ping of interest."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        db = self.client.connection_pool.connection_kwargs.get("db", 0)
        self.channel = f"/{db}.celery.pidbox"
        # Our own channel for a sentinel: Redis delivers one connection's messages in the order
        # it handled the publishes, so the sentinel arrives after every ping published before it.
        self.sentinel_channel = f"healthz-test-{uuid.uuid4().hex}"
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(self.channel, self.sentinel_channel)
        self.pings = 0
        self.count()

    def count(self) -> int:
        token = uuid.uuid4().hex.encode()
        self.client.publish(self.sentinel_channel, token)
        while True:
            message = self.pubsub.get_message(timeout=10)
            assert message is not None, "the sentinel never came back"
            if message["type"] != "message":
                continue
            if message["data"] == token:
                return self.pings
            self.pings += _is_ping(message["data"])

    def close(self) -> None:
        self.pubsub.close()


def _is_ping(data: bytes) -> bool:
    envelope = json.loads(data)
    body = envelope["body"]
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    return json.loads(body).get("method") == "ping"


@pytest.fixture
def cached_env(isolated_env):
    # Longer than any test here, so whether an answer is cached never depends on timing.
    return dict(isolated_env, HEALTHZ_CACHE_SECONDS="600", HEALTHZ_DOWN_CACHE_SECONDS="600")


@pytest.fixture
def pings(cached_env):
    counter = PingCounter(cached_env["REDIS_URL"])
    yield counter
    counter.close()


def test_it_is_503_naming_the_workers_when_none_runs_then_200(isolated_env, log_dir):
    # "Up" is shared for ten minutes, "down" not at all: a worker that starts is seen at once.
    env = dict(isolated_env, HEALTHZ_CACHE_SECONDS="600", HEALTHZ_DOWN_CACHE_SECONDS="0")
    web = start_web(env, log_dir, workers=1)
    try:
        resp = _health(web)
        assert resp.status_code == 503
        body = resp.json()
        assert body["down"] == ["workers"]
        assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
        worker = start_worker(env, log_dir, concurrency=1, name="health")
        try:
            resp = _health(web)
            assert resp.status_code == 200
            assert resp.json()["down"] == []
            assert resp.json()["checks"]["workers"]["workers"] >= 1
        finally:
            worker.stop()
    finally:
        web.stop()


def test_it_reports_workers_ok_from_one_ping_shared_by_the_web_processes(
    cached_env, log_dir, pings
):
    worker = start_worker(cached_env, log_dir, concurrency=1, name="health-shared")
    web = start_web(cached_env, log_dir, workers=2)
    try:
        before = pings.count()
        answers = [_health(web) for _ in range(10)]
        assert [resp.status_code for resp in answers] == [200] * 10
        assert pings.count() == before + 1
        assert [_workers(resp)["cached"] for resp in answers] == [False] + [True] * 9
        assert all(_workers(resp)["workers"] >= 1 for resp in answers)
    finally:
        web.stop()
        worker.stop()


def test_it_answers_from_the_fresh_cache_when_the_worker_is_gone_and_deep_pings_live(
    cached_env, log_dir, pings
):
    web = start_web(cached_env, log_dir, workers=1)
    worker = start_worker(cached_env, log_dir, concurrency=1, name="health-gone")
    try:
        before = pings.count()
        assert _health(web).status_code == 200
        worker.stop()
        cached = _health(web)
        assert cached.status_code == 200 and _workers(cached)["cached"] is True
        assert pings.count() == before + 1

        deep = _health(web, deep=True)
        assert deep.status_code == 503
        assert deep.json()["down"] == ["workers"] and _workers(deep)["cached"] is False
        assert pings.count() == before + 2
        # The live answer replaced the shared one.
        after = _health(web)
        assert after.status_code == 503 and _workers(after)["cached"] is True
        assert pings.count() == before + 2
    finally:
        worker.stop()
        web.stop()


@pytest.mark.parametrize(
    ("variable", "url", "named"),
    [
        ("REDIS_URL", "redis://127.0.0.1:{port}/0", {"broker", "workers"}),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:{port}/none", {"database"}),
    ],
)
def test_it_is_503_naming_what_is_unreachable(subprocess_env, log_dir, variable, url, named):
    env = dict(subprocess_env, **{variable: url.format(port=free_port())})
    web = start_web(env, log_dir, workers=1)
    try:
        resp = _health(web)
        assert resp.status_code == 503
        assert named <= set(resp.json()["down"])
    finally:
        web.stop()
