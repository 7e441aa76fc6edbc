"""When the poll sweep asks a task's service for its status (domain/releases/sweeps.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from domain.releases import conf, services, sweeps
from domain.releases.models import Task
from tests.domain.releases.releases_support import running_release

pytestmark = pytest.mark.django_db
INTERVAL = 3600.0


def _running_tasks(monkeypatch) -> list[str]:
    """A release whose two tasks were sent `start`, not yet acknowledged."""
    monkeypatch.setattr(conf, "TASK_POLL_INTERVAL", INTERVAL)
    return running_release(acknowledged=False)[1]


def test_a_task_is_not_polled_while_its_start_is_unacknowledged(monkeypatch):
    ids = _running_tasks(monkeypatch)
    Task.objects.filter(pk__in=ids).update(next_check_at=timezone.now() - timedelta(hours=2))
    assert sweeps.tasks_poll_due(interval=INTERVAL) == []


def test_an_acknowledged_task_is_first_polled_a_sweep_period_short_of_an_interval_later(
    monkeypatch,
):
    ids = _running_tasks(monkeypatch)
    before = timezone.now()
    services.tasks_acknowledge(task_ids=ids, action="start")
    after = timezone.now()

    # The answer was the task's status: no poll at the next sweep...
    assert sweeps.tasks_poll_due(interval=INTERVAL) == []
    # ...but three quarters of an interval later: with the sweep running every quarter
    # interval, a poll-only service is still asked within one interval of its answer.
    delay = timedelta(seconds=0.75 * INTERVAL)
    for due in Task.objects.filter(pk__in=ids).values_list("next_check_at", flat=True):
        assert before + delay <= due <= after + delay
    # ...and one once the interval has passed.
    Task.objects.filter(pk__in=ids).update(next_check_at=timezone.now())
    assert sorted(sweeps.tasks_poll_due(interval=INTERVAL)) == sorted(ids)


def test_an_acknowledgement_after_the_services_own_report_leaves_the_task_alone(monkeypatch):
    first, second = _running_tasks(monkeypatch)
    services.task_report(task_id=first, state="staged")
    services.tasks_acknowledge(task_ids=[first, second], action="start")
    assert Task.objects.get(pk=first).state == "staged"
    assert sweeps.tasks_poll_due(interval=INTERVAL) == []


@pytest.mark.parametrize(
    ("interval", "sweep", "first"), [(10.0, 2.5, 7.5), (2.0, 0.5, 1.5), (0.5, 0.5, 0.0)]
)
def test_the_sweep_runs_four_times_per_interval_and_at_most_twice_a_second(interval, sweep, first):
    assert conf.poll_sweep_every(interval) == sweep
    assert conf.first_poll_after(interval) == first
