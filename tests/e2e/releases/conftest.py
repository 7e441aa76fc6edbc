"""Fixtures of the releases end-to-end tests: the real web server (gunicorn), a beat process with
short intervals, stand-in task services, and helpers that drive the API over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from domain.releases.models import Study
from tests.support.processes import BIN, Proc, _spawn, child_env, start_web, wait_until
from tests.support.task_service import TaskServiceStandIn

# Beat ticks fast so polls, timeouts and the reconciler are seen within a test's patience.
BEAT_ENV = {
    "RELEASES_TASK_POLL_INTERVAL": "0.5",
    "RELEASES_HEALTH_CHECK_INTERVAL": "3600",
    "RELEASES_RECONCILE_INTERVAL": "1",
    "RELEASES_RECONCILE_AFTER": "4",
    "RELEASES_TIMEOUT_SWEEP_INTERVAL": "3600",
}


@pytest.fixture(scope="session")
def releases_web(test_database_url, log_dir) -> Iterator[Proc]:
    proc = start_web(child_env(test_database_url), log_dir, workers=2)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def releases_beat(test_database_url, log_dir, tmp_path_factory) -> Iterator[Proc]:
    data = tmp_path_factory.mktemp("beat")
    env = child_env(test_database_url, REGATTA_DATA_DIR=str(data), **BEAT_ENV)
    argv = [str(BIN / "celery"), "-A", "orchestrator", "beat", "--loglevel", "INFO"]
    proc = _spawn("releases-beat", argv, env, log_dir)
    wait_until(lambda: "beat: Starting" in proc.log() or not proc.alive(), timeout=30)
    assert proc.alive(), proc.log()[-2000:]
    yield proc
    proc.stop()


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
