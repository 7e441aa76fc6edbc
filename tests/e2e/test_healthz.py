"""/healthz on the production web server: 200 only when database, broker and a worker are up."""

from __future__ import annotations

import pytest
import redis
import requests

from tests.support.processes import free_port, start_web, start_worker

# A Redis db of its own, so the session's worker (on another db) cannot answer these pings:
# Celery's broadcast channels are prefixed by the db number.
HEALTH_REDIS_DB = 14

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def isolated_env(subprocess_env):
    base = subprocess_env["REDIS_URL"].rsplit("/", 1)[0]
    url = f"{base}/{HEALTH_REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return dict(subprocess_env, REDIS_URL=url)


def _health(web) -> requests.Response:
    return requests.get(web.info["url"] + "/healthz", timeout=15)


def test_it_is_503_naming_the_workers_when_none_runs_then_200(isolated_env, log_dir):
    web = start_web(isolated_env, log_dir, workers=1)
    try:
        resp = _health(web)
        assert resp.status_code == 503
        body = resp.json()
        assert body["down"] == ["workers"]
        assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
        worker = start_worker(isolated_env, log_dir, concurrency=1, name="health")
        try:
            resp = _health(web)
            assert resp.status_code == 200
            assert resp.json()["down"] == []
            assert resp.json()["checks"]["workers"]["workers"] >= 1
        finally:
            worker.stop()
    finally:
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
