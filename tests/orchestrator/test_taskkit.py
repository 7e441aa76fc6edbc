from __future__ import annotations

import uuid

import pytest
from celery.exceptions import MaxRetriesExceededError

from orchestrator.celery import app
from orchestrator.taskkit import TransientError, regatta_task
from tests.support.testapp.tasks import flaky, fragile


def test_every_registered_regatta_task_has_an_explicit_dotted_name_and_a_known_queue():
    import orchestrator.tasks  # noqa: F401 (registers every family's tasks)

    ours = {
        name: t
        for name, t in app.tasks.items()
        if t.__module__.startswith(("orchestrator.", "tests."))  # not Celery's or plugins'
    }
    assert "common.ping" in ours
    for name, task in ours.items():
        assert "." in name
        assert task.queue in {"default", "outbound", "executions", "jobs"}, name
        assert task.time_limit and task.soft_time_limit, name


def test_it_refuses_an_unknown_queue_or_an_undotted_name():
    with pytest.raises(ValueError):
        regatta_task("x.y", queue="slow")
    with pytest.raises(ValueError):
        regatta_task("nodots")


def test_the_three_queues_are_declared():
    assert {q.name for q in app.conf.task_queues} == {"default", "outbound", "executions", "jobs"}


def test_transient_errors_retry_with_backoff_by_default():
    assert TransientError in flaky.autoretry_for
    assert flaky.retry_backoff and flaky.retry_jitter


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_a_transient_failure_until_it_succeeds(live_worker, redis_client):
    key = f"flaky-{uuid.uuid4().hex}"
    assert flaky.delay(key, 2).get(timeout=30) == 3


@pytest.mark.django_db(transaction=True)
def test_retries_run_out_and_the_error_reaches_the_caller(live_worker, redis_client):
    key = f"flaky-{uuid.uuid4().hex}"
    with pytest.raises((TransientError, MaxRetriesExceededError)):
        flaky.delay(key, 10).get(timeout=30)
    assert int(redis_client.get(key)) == 4  # the first try and three retries


@pytest.mark.django_db(transaction=True)
def test_it_retries_only_a_task_that_opts_in(live_worker, redis_client):
    key = f"fragile-{uuid.uuid4().hex}"
    with pytest.raises(TransientError):
        fragile.delay(key, 1).get(timeout=30)
    assert int(redis_client.get(key)) == 1  # one try, no retry
