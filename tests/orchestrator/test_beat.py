"""celeryconfig.beat_schedule judged by what it drives: a real `celery beat` process with short
intervals whose sweeps a real worker runs, and each entry checked against the task it names."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator

import pytest

from domain.releases.models import TaskService
from domain.tracker.models import MonitoringSnapshot, Project, Task, Worker
from orchestrator.config import beat_entries_only
from tests.support.processes import Proc, start_beat, stop_beat, wait_until
from tests.support.task_service import TaskServiceStandIn


@pytest.fixture
def beat(subprocess_env, log_dir, tmp_path, redis_client, live_worker) -> Iterator[Callable]:
    """start(**env) → a beat on the suite's database and broker, stopped (and its last messages
    done) after the test."""
    started: list[Proc] = []

    def start(**env: str) -> Proc:
        data_dir = tmp_path / f"beat-{len(started)}"
        started.append(start_beat({**subprocess_env, **env}, log_dir, data_dir, name="sweeps"))
        return started[-1]

    yield start
    for proc in started:
        stop_beat(proc, redis_client)


@pytest.fixture
def status_host() -> Iterator[TaskServiceStandIn]:
    host = TaskServiceStandIn(mode="manual", name="checked")
    yield host
    host.stop()


@pytest.mark.django_db(transaction=True)
def test_it_reclaims_snapshots_and_health_checks_from_a_real_beat(beat, status_host):
    # Tracker: Wendy holds a task past its max_assign_time (which tasks a sweep reclaims is
    # test_tracker_sweeps.py's business; here it is that the beat runs the sweep at all).
    project = Project.objects.create(name="beat", assign_rate=1.0, submit_rate=1.0)
    wendy = Worker.objects.create(created=1, alias="wendy", secret_hash=b"x" * 32)
    late = Task.objects.create(
        project=project, recipe="late", assignee=wendy, assign_time=int(time.time()) - 100
    )
    # Releases: a service counted three failed checks, whose /status answers now.
    service = TaskService.objects.create(
        name="checked", url=status_host.url, author="a", last_ok_status=3
    )

    beat(
        REGATTA_BEAT_ONLY="tracker.,releases.health_checks",
        TRACKER_RECLAIM_INTERVAL="0.5",
        TRACKER_MONITORING_INTERVAL="0.5",
        RELEASES_HEALTH_CHECK_INTERVAL="0.5",
    )

    wait_until(
        lambda: Task.objects.get(pk=late.pk).assignee_id is None, message="the late task reclaimed"
    )
    wait_until(
        lambda: MonitoringSnapshot.objects.filter(project=project).exists(),
        message="a monitoring snapshot",
    )
    wait_until(
        lambda: TaskService.objects.get(pk=service.pk).last_ok_status == 0,
        message="the service health-checked",
    )
    assert any(c.method == "GET" and c.path == "/status" for c in status_host.calls)


def test_it_schedules_only_registered_tasks_that_accept_their_entry_arguments():
    """A beat entry whose task is missing, or whose kwargs its task does not take, never runs:
    beat logs the error and goes on, so nothing else would notice."""
    from celeryconfig import beat_schedule
    from orchestrator.celery import app

    app.loader.import_default_modules()
    assert beat_schedule
    for name, entry in beat_schedule.items():
        task = app.tasks.get(entry["task"])
        assert task is not None, f"{name}: no registered task {entry['task']!r}"
        try:
            inspect.signature(task.run).bind(*entry.get("args", ()), **entry.get("kwargs", {}))
        except TypeError as exc:
            pytest.fail(f"{name}: {entry['task']} does not take {entry.get('kwargs')}: {exc}")


def test_it_keeps_the_named_entries_and_families_and_refuses_a_name_that_selects_none():
    schedule = {"tracker.a": {}, "tracker.b": {}, "releases.poll": {}, "releases.poll_all": {}}
    assert beat_entries_only(schedule, "") == schedule
    assert list(beat_entries_only(schedule, " tracker., releases.poll ")) == [
        "tracker.a",
        "tracker.b",
        "releases.poll",
    ]
    with pytest.raises(ValueError, match="releases.pol, jobs. selects no beat entry"):
        beat_entries_only(schedule, "releases.pol,jobs.,tracker.a")
