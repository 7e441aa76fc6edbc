"""The one transition function of executions: forward only, once, with an event and the
owner's hook in the same transaction."""

from __future__ import annotations

import pytest

from domain.common.models import TransitionLog
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import (
    execution_end,
    execution_launch_begin,
    execution_mark_running,
)
from domain.executions.models import Execution, ExecutionEvent, ExecutionState, Outcome
from domain.executions.states import execution_transition
from tests.support.executions import HEARD

pytestmark = pytest.mark.django_db


def _heard(execution_id: str) -> list[tuple[str, str]]:
    return [(source, target) for eid, source, target in HEARD if eid == execution_id]


def _transitions(execution_id: str) -> list[tuple[str, str]]:
    return list(
        ExecutionEvent.objects.filter(execution_id=execution_id, kind="transition")
        .exclude(target="")
        .values_list("source", "target")
    )


def _running(make_host, make_execution) -> Execution:
    make_host(slots=1)
    execution = make_execution("echo hi")
    execution_dispatch(cluster=execution.cluster)
    assert execution_launch_begin(execution_id=execution.id) is not None
    assert execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})
    return execution


def test_it_moves_forward_through_every_state_once(make_host, make_execution):
    execution = _running(make_host, make_execution)
    assert execution_end(execution_id=execution.id, outcome=Outcome.EXITED, exit_code=0, reason="")

    row = Execution.objects.get(pk=execution.id)
    assert (row.state, row.outcome, row.exit_code) == (ExecutionState.ENDED, Outcome.EXITED, 0)
    assert row.pending_at and row.started_at and row.finished_at and row.deadline_at
    path = [("QUEUED", "PENDING"), ("PENDING", "RUNNING"), ("RUNNING", "ENDED")]
    assert _transitions(execution.id) == path
    # One log row per transition: the execution's own event, no TransitionLog beside it.
    assert not TransitionLog.objects.filter(aggregate_id=execution.id).exists()
    assert _heard(execution.id) == path


def test_it_never_moves_back_from_an_end(make_host, make_execution):
    execution = _running(make_host, make_execution)
    execution_end(execution_id=execution.id, outcome=Outcome.EXITED, exit_code=3, reason="")
    before = ExecutionEvent.objects.filter(execution_id=execution.id).count()

    for target, sources in (
        (ExecutionState.RUNNING, [ExecutionState.PENDING]),
        (ExecutionState.PENDING, [ExecutionState.QUEUED]),
        (ExecutionState.QUEUED, [ExecutionState.PENDING, ExecutionState.RUNNING]),
    ):
        result = execution_transition(
            execution_id=execution.id, target=target, allowed_from=sources
        )
        assert not result.applied and result.source == ExecutionState.ENDED
    assert not execution_mark_running(execution_id=execution.id, engine_ref={"pid": 2})
    assert execution_launch_begin(execution_id=execution.id) is None

    row = Execution.objects.get(pk=execution.id)
    assert (row.state, row.exit_code, row.engine_ref) == (ExecutionState.ENDED, 3, {"pid": 1})
    assert ExecutionEvent.objects.filter(execution_id=execution.id).count() == before


def test_a_running_execution_is_never_dispatched_again(make_host, make_execution):
    execution = _running(make_host, make_execution)
    make_host("host-b", slots=4)
    assert execution_dispatch(cluster=execution.cluster) == 0
    row = Execution.objects.get(pk=execution.id)
    assert (row.state, row.host) == (ExecutionState.RUNNING, "host-a")


def test_a_redelivered_report_changes_nothing(make_host, make_execution):
    execution = _running(make_host, make_execution)

    # The supervisor's "running" and "ended" reports arrive twice (a retried write, a sweep
    # racing the supervisor): the second of each is a no-op, the first one's values stay.
    assert execution_mark_running(execution_id=execution.id, engine_ref={"pid": 99})
    assert execution_end(execution_id=execution.id, outcome=Outcome.EXITED, exit_code=0, reason="")
    assert not execution_end(
        execution_id=execution.id, outcome=Outcome.LOST, exit_code=None, reason="worker lost"
    )

    row = Execution.objects.get(pk=execution.id)
    assert (row.outcome, row.exit_code, row.exit_reason) == (Outcome.EXITED, 0, "")
    assert row.engine_ref == {"pid": 1}
    assert _transitions(execution.id).count(("RUNNING", "ENDED")) == 1
    assert _heard(execution.id).count(("PENDING", "RUNNING")) == 1
    assert _heard(execution.id).count(("RUNNING", "ENDED")) == 1


def test_a_failing_owner_hook_rolls_the_transition_back(make_host, make_execution, monkeypatch):
    from domain.executions import owners

    execution = _running(make_host, make_execution)

    def refuse(execution, source, target):
        raise RuntimeError("the owner could not record it")

    monkeypatch.setitem(owners._hooks, execution.owner_type, refuse)
    with pytest.raises(RuntimeError):
        execution_end(execution_id=execution.id, outcome=Outcome.EXITED, exit_code=0, reason="")
    row = Execution.objects.get(pk=execution.id)
    assert row.state == ExecutionState.RUNNING and row.outcome == ""
    assert ("RUNNING", "ENDED") not in _transitions(execution.id)
