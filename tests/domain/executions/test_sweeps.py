"""Beat's sweeps: nothing stays open because a host, a supervisor or a message went missing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import execution_launch_begin, execution_mark_running
from domain.executions.models import Execution, ExecutionState, Host, Outcome
from domain.executions.steps import DispatchCluster, LaunchExecution, StopExecution
from domain.executions.sweeps import reconcile, sweep_deadlines, sweep_lost
from tests.support.executions import clusters_known

pytestmark = pytest.mark.django_db


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def _age(execution: Execution, **fields_seconds_ago: float) -> None:
    Execution.objects.filter(pk=execution.pk).update(
        **{name: _ago(seconds) for name, seconds in fields_seconds_ago.items()}
    )


def _pending(make_host, make_execution, n: int = 1, **kwargs) -> list[Execution]:
    if not Host.objects.filter(name__in=["host-a", "host-b"]).exists():
        make_host(slots=n)
    executions = [make_execution(**kwargs) for _ in range(n)]
    execution_dispatch(cluster=executions[0].cluster)
    return executions


def _running(make_host, make_execution, n: int = 1, **kwargs) -> list[Execution]:
    executions = _pending(make_host, make_execution, n, **kwargs)
    for execution in executions:
        execution_launch_begin(execution_id=execution.id)
        execution_mark_running(execution_id=execution.id, engine_ref={"supervisor_pid": 1})
    return executions


def _row(execution: Execution) -> Execution:
    return Execution.objects.get(pk=execution.pk)


def test_a_silent_supervisor_ends_its_execution_lost(make_host, make_execution, scheduled):
    silent, alive = _running(make_host, make_execution, n=2)
    _age(silent, heartbeat_at=30)

    steps = scheduled(sweep_lost, timeout=10)

    assert (_row(silent).state, _row(silent).outcome) == (ExecutionState.ENDED, Outcome.LOST)
    assert _row(silent).exit_reason == "worker lost: no heartbeat for 10 seconds"
    assert _row(alive).state == ExecutionState.RUNNING
    # The slot goes to the next in line, and the host kills whatever is left of the command.
    assert steps == [
        DispatchCluster(cluster=silent.cluster),
        StopExecution(execution_id=silent.id, queue=conf.host_queue("host-a")),
    ]
    assert sweep_lost(timeout=10) == []


def test_a_launch_taken_by_a_worker_that_died_before_forking_ends_lost(make_host, make_execution):
    (execution,) = _pending(make_host, make_execution)
    execution_launch_begin(execution_id=execution.id)
    _age(execution, heartbeat_at=30)

    assert sweep_lost(timeout=10) == [execution.id]
    assert _row(execution).outcome == Outcome.LOST


def test_a_pending_execution_waits_for_its_live_host_but_not_for_a_dead_one(
    make_host, make_execution
):
    make_host("host-a", slots=1)
    make_host("host-b", slots=1)
    on_a, on_b = _pending(make_host, make_execution, n=2)
    _age(on_a, pending_at=30)
    _age(on_b, pending_at=30)
    dead = _row(on_a).host
    Host.objects.filter(pk=dead).update(heartbeat_at=_ago(600))

    ended = sweep_lost(timeout=10, host_timeout=60)

    lost, waiting = (on_a, on_b) if _row(on_a).host == dead else (on_b, on_a)
    assert ended == [lost.id]
    assert _row(lost).exit_reason.startswith("worker lost: its host stopped answering")
    assert _row(waiting).state == ExecutionState.PENDING


def test_remote_executions_are_never_swept_as_lost():
    with clusters_known("far", engine="kubernetes"):
        from domain.executions.services import execution_create

        execution = execution_create(
            owner_type="test.owner", owner_id="o", cluster="far", command="true", env=[]
        )
        execution_dispatch(cluster="far")
        execution_launch_begin(execution_id=execution.id)
        Execution.objects.filter(pk=execution.pk).update(
            state=ExecutionState.RUNNING, heartbeat_at=_ago(3600), pending_at=_ago(3600)
        )

        assert sweep_lost(timeout=10, host_timeout=10) == []
        assert _row(execution).state == ExecutionState.RUNNING

        # Its deadline is the sweep's to enforce, at once.
        Execution.objects.filter(pk=execution.pk).update(deadline_at=_ago(1))
        assert sweep_deadlines(grace=300) == [execution.id]
    assert (_row(execution).outcome, _row(execution).exit_reason) == (
        Outcome.TIMED_OUT,
        f"JobRun exceeded specified timeout of {conf.DEFAULT_DEADLINE_SECONDS} seconds",
    )


def test_a_supervisor_gets_its_grace_to_enforce_its_own_deadline(make_host, make_execution):
    in_grace, past_grace, not_due = _running(make_host, make_execution, n=3, deadline_seconds=60)
    Execution.objects.filter(pk=in_grace.pk).update(deadline_at=_ago(5))
    Execution.objects.filter(pk=past_grace.pk).update(deadline_at=_ago(50))

    assert sweep_deadlines(grace=20) == [past_grace.id]
    assert _row(past_grace).exit_reason == "JobRun exceeded specified timeout of 60 seconds"
    assert _row(in_grace).state == _row(not_due).state == ExecutionState.RUNNING


def test_the_reconciler_redrives_queued_clusters_and_unlaunched_executions(
    make_host, make_execution, scheduled
):
    stranded, fresh, launched = _pending(make_host, make_execution, n=3)
    execution_launch_begin(execution_id=launched.id)
    _age(stranded, pending_at=30)
    _age(launched, pending_at=30)
    queued = make_execution()

    steps = scheduled(reconcile, launch_timeout=10)

    assert steps == [
        DispatchCluster(cluster=queued.cluster),
        LaunchExecution(execution_id=stranded.id, queue=conf.host_queue("host-a")),
    ]
    # It only sends messages: the states are the launches' and dispatches' to change.
    assert [_row(e).state for e in (stranded, fresh, launched)] == [ExecutionState.PENDING] * 3
