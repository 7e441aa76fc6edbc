"""The idempotent sweeps of the executions and jobs families are tried again after a database
error (a deadlock victim, a dropped connection) instead of waiting for the next beat; any other
error is not. Eager `apply()` (which runs a task's retries in place): a unit test of each task's
retry declaration, not of the broker."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from orchestrator.tasks import executions as execution_tasks
from orchestrator.tasks import jobs as job_tasks


def _failing_once(exc: Exception, answer: int):
    calls: list[int] = []

    def work(**_kwargs) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return answer

    return work, calls


@pytest.fixture
def dispatch_fails_once(monkeypatch):
    def arrange(exc: Exception):
        work, calls = _failing_once(exc, 3)
        monkeypatch.setattr(execution_tasks.dispatch, "execution_dispatch", work)
        return lambda: execution_tasks.dispatch_cluster.apply(args=("alpha",)), calls

    return arrange


@pytest.fixture
def schedule_fails_once(monkeypatch):
    def arrange(exc: Exception):
        work, calls = _failing_once(exc, 3)
        monkeypatch.setattr(job_tasks, "jobs_schedule", work)
        monkeypatch.setattr(job_tasks, "asks_cleared", lambda _flag: None)
        return lambda: job_tasks.schedule.apply(), calls

    return arrange


@pytest.mark.parametrize("task", ["dispatch_fails_once", "schedule_fails_once"])
def test_a_database_error_is_tried_again(request, task):
    run, calls = request.getfixturevalue(task)(OperationalError("deadlock detected"))
    result = run()
    assert (result.state, result.result, len(calls)) == ("SUCCESS", 3, 2)


@pytest.mark.parametrize("task", ["dispatch_fails_once", "schedule_fails_once"])
def test_any_other_error_is_not(request, task):
    run, calls = request.getfixturevalue(task)(ValueError("a bug"))
    result = run()
    assert (result.state, len(calls)) == ("FAILURE", 1)
