"""What the engine side reports: a launch is claimed once, however many messages ask for it."""

from __future__ import annotations

import pytest

from domain.common import steps as steps_module
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import (
    execution_end,
    execution_heartbeat,
    execution_launch_begin,
    execution_mark_running,
    execution_started,
)
from domain.executions.models import Execution, ExecutionState, Outcome
from domain.executions.selectors import execution_log_page
from domain.executions.services import execution_stop
from domain.executions.steps import DispatchCluster


def _pending(make_host, make_execution, **kwargs) -> Execution:
    make_host(slots=1)
    execution = make_execution("echo hi", **kwargs)
    execution_dispatch(cluster=execution.cluster)
    return execution


@pytest.mark.django_db
def test_a_launch_is_claimed_once(make_host, make_execution):
    execution = _pending(
        make_host, make_execution, env=[("A", "1"), ("A", "2")], deadline_seconds=30
    )

    order = execution_launch_begin(execution_id=execution.id)
    assert order is not None
    assert (order.command, order.deadline_seconds) == ("echo hi", 30)
    assert order.env == [("A", "1"), ("A", "2")]
    # The redelivered launch message finds it claimed: the command never starts twice.
    assert execution_launch_begin(execution_id=execution.id) is None
    row = Execution.objects.get(pk=execution.id)
    assert row.state == ExecutionState.PENDING and row.launch_started_at is not None


@pytest.mark.django_db
def test_only_a_pending_execution_launches(make_host, make_execution):
    make_host(slots=1)
    queued = make_execution()
    ended = make_execution()
    execution_stop(execution_id=ended.id, reason="never mind")

    assert execution_launch_begin(execution_id=queued.id) is None
    assert execution_launch_begin(execution_id=ended.id) is None
    assert execution_launch_begin(execution_id="no-such-execution") is None
    assert Execution.objects.get(pk=queued.id).launch_started_at is None


@pytest.mark.django_db
def test_an_end_frees_the_slot_and_dispatches_the_cluster(make_host, make_execution, scheduled):
    execution = _pending(make_host, make_execution)
    execution_launch_begin(execution_id=execution.id)
    execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})

    steps = scheduled(
        execution_end,
        execution_id=execution.id,
        outcome=Outcome.OOM,
        exit_code=137,
        reason="OOMKilled",
        usage={"max_mem_mb": 100.0},
    )

    assert steps == [DispatchCluster(cluster=execution.cluster)]
    row = Execution.objects.get(pk=execution.id)
    assert (row.outcome, row.exit_code, row.exit_reason) == (Outcome.OOM, 137, "OOMKilled")
    assert row.usage == {"max_mem_mb": 100.0}
    # A late report (the supervisor's, after a sweep ended it) schedules nothing.
    assert (
        scheduled(
            execution_end,
            execution_id=execution.id,
            outcome=Outcome.LOST,
            exit_code=None,
            reason="",
        )
        == []
    )


@pytest.mark.django_db
def test_the_heartbeat_tells_the_supervisor_about_a_stop(make_host, make_execution):
    execution = _pending(make_host, make_execution)
    execution_launch_begin(execution_id=execution.id)
    execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})
    assert execution_heartbeat(execution_id=execution.id) is None

    execution_stop(execution_id=execution.id, reason="Task terminated by user")

    assert execution_heartbeat(execution_id=execution.id) == "Task terminated by user"
    execution_end(execution_id=execution.id, outcome=Outcome.STOPPED, exit_code=143, reason="x")
    assert execution_heartbeat(execution_id=execution.id) == "ended"


@pytest.mark.django_db
def test_the_start_tells_the_supervisor_about_a_stop_asked_while_pending(make_host, make_execution):
    execution = _pending(make_host, make_execution)
    execution_launch_begin(execution_id=execution.id)
    # The launch has begun: the stop is recorded for the supervisor, which has no pid yet.
    execution_stop(execution_id=execution.id, reason="Task terminated by user - bob@example.com")

    started = execution_started(execution_id=execution.id, engine_ref={"pid": 1})

    assert started.running
    assert started.stop_reason == "Task terminated by user - bob@example.com"


@pytest.mark.django_db
def test_the_start_of_an_execution_nobody_stopped_reads_no_stop(make_host, make_execution):
    execution = _pending(make_host, make_execution)
    execution_launch_begin(execution_id=execution.id)

    started = execution_started(execution_id=execution.id, engine_ref={"pid": 1})

    assert (started.running, started.stop_reason) == (True, None)


@pytest.mark.django_db
def test_the_last_lines_are_stored_with_the_end(make_host, make_execution):
    execution = _pending(make_host, make_execution)
    execution_launch_begin(execution_id=execution.id)
    execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})

    def end() -> bool:
        return execution_end(
            execution_id=execution.id,
            outcome=Outcome.EXITED,
            exit_code=0,
            reason="",
            log_lines=["+ echo hi\n", "hi\n"],
            log_first_line=0,
        )

    ended = end()
    # The same end again (a retried write whose answer was lost) stores nothing twice.
    again = end()

    assert (ended, again) == (True, False)
    row = Execution.objects.get(pk=execution.id)
    assert (row.state, row.log_lines) == (ExecutionState.ENDED, 2)
    assert execution_log_page(execution_id=execution.id, after_line=0) == ("+ echo hi\nhi\n", 2)


@pytest.mark.django_db
def test_an_end_dispatches_only_when_an_execution_waits(
    make_host, make_execution, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list = []
    monkeypatch.setattr(steps_module, "step_run", sent.append)
    make_host(slots=1)

    def end_running(execution) -> None:
        execution_dispatch(cluster=execution.cluster)
        execution_launch_begin(execution_id=execution.id)
        execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})
        with django_capture_on_commit_callbacks(execute=True):
            execution_end(execution_id=execution.id, outcome=Outcome.EXITED, exit_code=0, reason="")

    end_running(make_execution())
    # Nothing waits for the slot it freed: no dispatch is sent.
    assert sent == []

    running = make_execution()
    execution_dispatch(cluster=running.cluster)
    waiting = make_execution()
    end_running(running)
    assert sent == [DispatchCluster(cluster=waiting.cluster)]
