"""Fixtures of the releases end-to-end tests: the real web server (gunicorn), a beat process with
short intervals, stand-in task services, and helpers that drive the API over HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from domain.releases.models import Study, Task
from tests.support.processes import (
    Proc,
    child_env,
    start_beat,
    start_web,
    start_worker,
    stop_beat,
    suite_redis_url,
    wait_until,
)
from tests.support.task_service import TaskServiceStandIn

# The beat runs only the sweeps these tests observe, polls and the reconciler, and ticks fast so
# they are seen within a test's patience (tests call health checks and timeouts themselves).
BEAT_ENV = {
    "REGATTA_BEAT_ONLY": "releases.poll_tasks,releases.reconcile",
    "RELEASES_TASK_POLL_INTERVAL": "0.5",
    "RELEASES_RECONCILE_INTERVAL": "1",
    "RELEASES_RECONCILE_AFTER": "4",
}


@pytest.fixture(scope="session")
def releases_web(test_database_url, log_dir) -> Iterator[Proc]:
    proc = start_web(child_env(test_database_url), log_dir, workers=2)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def releases_beat(test_database_url, log_dir, tmp_path_factory, redis_client) -> Iterator[Proc]:
    """A beat on the suite's database and broker for the tests of one module: it stops after
    them, so later tests (domain tests among them) never meet its sweeps."""
    env = child_env(test_database_url, **BEAT_ENV)
    proc = start_beat(env, log_dir, tmp_path_factory.mktemp("beat"), name="releases-beat")
    yield proc
    stop_beat(proc, redis_client)


class Coordinator:
    """The coordinator as its HTTP clients see it."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.request(method, self.url + path, json=body, headers=headers, timeout=30)

    def get(self, path: str) -> dict:
        resp = requests.get(self.url + path, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def release(self, kf_id: str) -> dict:
        return self.get(f"/releases/{kf_id}")

    def wait_state(self, kf_id: str, state: str, timeout: float = 30.0) -> dict:
        seen = {}

        def reached():
            seen.update(self.release(kf_id))
            return seen["state"] == state

        try:
            wait_until(reached, timeout=timeout, interval=0.1, message=f"{kf_id} {state}")
        except AssertionError:
            raise AssertionError(f"{kf_id} stuck in {seen.get('state')}: {seen}") from None
        return seen

    def wait_started(self, kf_id: str) -> str:
        """Wait until the release runs and its one task's service has answered `start` (its
        answer sets the service's own store, so a test must not set that store earlier)."""
        task_id = self.wait_state(kf_id, "running")["tasks"][0]["kf_id"]
        wait_until(
            lambda: Task.objects.filter(pk=task_id, pending_action="").exists(),
            message="start acknowledged",
        )
        return task_id

    def register(self, standin: TaskServiceStandIn, **extra) -> dict:
        body = {"name": standin.name, "author": "tester", "url": standin.url, **extra}
        resp = self.call("POST", "/task-services", body)
        assert resp.status_code == 201, resp.text
        data = resp.json()
        standin.coordinator_url = self.url
        standin.token = data["inbound_token"]
        return data

    def create(self, name: str = "release", studies=("SD_00000001",)) -> dict:
        resp = self.call("POST", "/releases", {"name": name, "studies": list(studies)})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def events(self, **filters) -> list[dict]:
        return self.get_all("/events", **filters)

    def get_all(self, path: str, **filters) -> list[dict]:
        params = {**filters, "limit": 1000}
        resp = requests.get(self.url + path, params=params, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()["results"]


@pytest.fixture
def coordinator(releases_web, live_worker, admin_token) -> Coordinator:
    Study.objects.get_or_create(kf_id="SD_00000001", defaults={"name": "Study one"})
    Study.objects.get_or_create(kf_id="SD_00000002", defaults={"name": "Study two"})
    return Coordinator(releases_web.info["url"], admin_token)


@pytest.fixture
def standin() -> Iterator[Callable[..., TaskServiceStandIn]]:
    made: list[TaskServiceStandIn] = []

    def make(**kwargs) -> TaskServiceStandIn:
        s = TaskServiceStandIn(**kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        try:
            s.stop()
        except OSError:
            pass


# --- an isolated stack: its own web, workers and beat on their own Redis db -----------------------


def isolated_redis_url() -> str:
    """The broker db of isolated stacks: RELEASES_ISOLATED_REDIS_URL, else the suite's db + 1.
    Tests that kill every worker or FLUSHDB the broker use it so the session's shared workers
    (and anyone else's db) are never touched; they share the suite's PostgreSQL database."""
    explicit = os.environ.get("RELEASES_ISOLATED_REDIS_URL", "").strip()
    if explicit:
        return explicit
    return suite_redis_url(1)


@dataclass
class Stack:
    coordinator: Coordinator
    env: dict[str, str]
    broker: redis.Redis
    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def worker(self, name: str, concurrency: int = 2) -> Proc:
        proc = start_worker(self.env, self.log_dir, concurrency=concurrency, name=name)
        self.procs.append(proc)
        return proc

    def beat(self, data_dir: Path) -> Proc:
        env = {**self.env, **BEAT_ENV}
        proc = start_beat(env, self.log_dir, data_dir, name=f"beat-{data_dir.name}")
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


@pytest.fixture
def isolated_stack(test_database_url, log_dir, admin_token) -> Iterator[Callable[..., Stack]]:
    """make(**env) → a web server, and on request workers and a beat, whose broker and result
    backend are the isolated Redis db (flushed before and after), with `env` on top."""
    made: list[Stack] = []
    url = isolated_redis_url()

    def make(**extra: str) -> Stack:
        env = child_env(test_database_url, REDIS_URL=url, **extra)
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            env.pop(name, None)
        broker = redis.Redis.from_url(url)
        broker.flushdb()
        Study.objects.get_or_create(kf_id="SD_00000001", defaults={"name": "Study one"})
        stack = Stack(Coordinator("", admin_token), env, broker, log_dir / "isolated")
        made.append(stack)
        web = start_web(env, stack.log_dir, workers=1)
        stack.procs.append(web)
        stack.coordinator.url = web.info["url"]
        return stack

    yield make
    for stack in made:
        stack.stop()
        # Messages a killed worker left unacknowledged must not reach a later stack.
        stack.broker.flushdb()
