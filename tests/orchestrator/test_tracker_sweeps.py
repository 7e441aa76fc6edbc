"""The tracker's beat sweeps, run by a real Celery worker process."""

from __future__ import annotations

import time

import pytest

from domain.tracker.counters import project_closed_count
from domain.tracker.models import ClosedTally, MonitoringSnapshot, Project, Task, Worker
from orchestrator.tasks.tracker import monitoring_snapshot, reclaim_timed_out_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project() -> Project:
    return Project.objects.create(name="sweeps", assign_rate=1.0, submit_rate=1.0)


@pytest.fixture
def worker() -> Worker:
    return Worker.objects.create(created=1, alias="w", secret_hash=b"x" * 32)


def test_reclaim_unassigns_tasks_past_their_max_assign_time(live_worker, project, worker):
    now = int(time.time())
    late = Task.objects.create(
        project=project, recipe="late", assignee=worker, assign_time=now - 100, max_assign_time=10
    )
    fresh = Task.objects.create(
        project=project, recipe="fresh", assignee=worker, assign_time=now, max_assign_time=3600
    )
    failed = Task.objects.create(
        project=project, recipe="failed", assignee=worker, assign_time=0, status=2
    )
    forever = Task.objects.create(
        project=project,
        recipe="forever",
        assignee=worker,
        assign_time=now,
        max_assign_time=2**63 - 1,
    )
    assert reclaim_timed_out_tasks.delay().get(timeout=30) == 1
    assert Task.objects.get(pk=forever.pk).assignee_id == worker.id
    late.refresh_from_db()
    assert (late.assignee_id, late.assign_time, late.retries) == (None, None, 0)
    assert Task.objects.get(pk=fresh.pk).assignee_id == worker.id
    assert Task.objects.get(pk=failed.pk).assignee_id == worker.id


def test_monitoring_snapshot_counts_and_prunes(live_worker, project, worker):
    Task.objects.create(project=project, recipe="new")
    Task.objects.create(project=project, recipe="failed", status=2)
    ClosedTally.objects.create(project_id=project.id, worker_id=worker.id)
    MonitoringSnapshot.objects.create(
        project=project,
        new_task_count=0,
        failed_task_count=0,
        closed_task_count=0,
        worker_access_count=0,
        awaiting_verification_count=0,
        time_stamp=1,
    )
    result = monitoring_snapshot.delay().get(timeout=30)
    assert result == {"taken": 1, "pruned": 1}
    snap = MonitoringSnapshot.objects.get()
    assert (snap.new_task_count, snap.failed_task_count, snap.closed_task_count) == (1, 1, 1)
    # The reclaim sweep also folds the closed tallies into the counters.
    reclaim_timed_out_tasks.delay().get(timeout=30)
    assert not ClosedTally.objects.exists()
    assert Project.objects.get(pk=project.pk).closed_task_count == 1
    assert project_closed_count(project_id=project.id) == 1
