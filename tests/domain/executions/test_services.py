"""What owners ask: create an execution (refusing bad input whole), stop one wherever it is."""

from __future__ import annotations

import pytest

from domain.common.errors import InvalidInput, NotFound
from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import (
    execution_end,
    execution_launch_begin,
    execution_mark_running,
)
from domain.executions.models import Execution, ExecutionEvent, ExecutionState, Outcome
from domain.executions.services import MAX_DEADLINE_SECONDS, execution_create, execution_stop
from domain.executions.steps import DispatchCluster, StopExecution
from tests.support.executions import OWNER, clusters_known, unique_name

pytestmark = pytest.mark.django_db


def test_it_queues_an_execution_and_asks_for_a_dispatch(cluster, scheduled):
    steps = scheduled(
        execution_create,
        owner_type=OWNER,
        owner_id=7,
        cluster=cluster,
        command="echo hi",
        env=[("A", 1)],
        labels={"run": "r1"},
    )

    row = Execution.objects.get(cluster=cluster)
    assert steps == [DispatchCluster(cluster=cluster)]
    assert (row.state, row.engine, row.owner_id) == (ExecutionState.QUEUED, "local", "7")
    assert row.env == [["A", "1"]]
    assert row.deadline_seconds == conf.DEFAULT_DEADLINE_SECONDS
    assert ExecutionEvent.objects.filter(execution=row, reason="queued").count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"cluster": "no-such-cluster"},
        {"deadline_seconds": 0},
        {"deadline_seconds": -5},
        {"deadline_seconds": MAX_DEADLINE_SECONDS + 1},
        {"deadline_seconds": 10**30},
        {"deadline_seconds": "60"},
        {"deadline_seconds": 1.5},
        {"deadline_seconds": True},
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(cluster, bad):
    fields = {"cluster": cluster, "command": "true", "env": [], **bad}
    owner = unique_name("refused")
    with pytest.raises(InvalidInput):
        execution_create(owner_type=OWNER, owner_id=owner, **fields)
    assert not Execution.objects.filter(owner_id=owner).exists()
    assert not ExecutionEvent.objects.filter(execution__owner_id=owner).exists()


def test_a_queued_execution_stops_at_once_and_never_launches(make_host, make_execution, scheduled):
    execution = make_execution()

    steps = scheduled(execution_stop, execution_id=execution.id, reason="Task terminated by user")

    assert steps == []
    row = Execution.objects.get(pk=execution.id)
    assert (row.state, row.outcome) == (ExecutionState.ENDED, Outcome.STOPPED)
    assert row.exit_reason == "Task terminated by user"
    make_host(slots=4)
    assert execution_dispatch(cluster=execution.cluster) == 0
    assert execution_launch_begin(execution_id=execution.id) is None


def test_a_pending_execution_not_launched_yet_stops_at_once(make_host, make_execution, scheduled):
    make_host(slots=1)
    execution = make_execution()
    execution_dispatch(cluster=execution.cluster)

    steps = scheduled(execution_stop, execution_id=execution.id, reason="Task terminated by user")

    # The slot it held goes to the next in line.
    assert steps == [DispatchCluster(cluster=execution.cluster)]
    row = Execution.objects.get(pk=execution.id)
    assert (row.state, row.outcome) == (ExecutionState.ENDED, Outcome.STOPPED)
    # Its launch message, still on the host's queue, finds nothing to start.
    assert execution_launch_begin(execution_id=execution.id) is None


def test_a_running_execution_is_stopped_by_its_host(make_host, make_execution, scheduled):
    make_host(slots=1)
    execution = make_execution()
    execution_dispatch(cluster=execution.cluster)
    execution_launch_begin(execution_id=execution.id)
    execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})

    steps = scheduled(execution_stop, execution_id=execution.id, reason="by Alice")
    again = scheduled(execution_stop, execution_id=execution.id, reason="by Bob")

    assert steps == [StopExecution(execution_id=execution.id, queue=conf.host_queue("host-a"))]
    assert again == []
    row = Execution.objects.get(pk=execution.id)
    assert row.state == ExecutionState.RUNNING
    assert row.stop_requested_at is not None and row.stop_reason == "by Alice"


def test_a_remote_execution_is_stopped_through_the_shared_queue(scheduled):
    with clusters_known("far", engine="kubernetes"):
        execution = execution_create(
            owner_type=OWNER, owner_id="o", cluster="far", command="true", env=[]
        )
        execution_dispatch(cluster="far")
        execution_launch_begin(execution_id=execution.id)
        steps = scheduled(execution_stop, execution_id=execution.id, reason="by Alice")
    assert steps == [StopExecution(execution_id=execution.id, queue=conf.REMOTE_QUEUE)]


def test_an_ended_execution_is_left_alone(make_execution, scheduled):
    execution = make_execution()
    execution_stop(execution_id=execution.id, reason="first")

    assert scheduled(execution_stop, execution_id=execution.id, reason="second") == []
    assert Execution.objects.get(pk=execution.id).exit_reason == "first"


def test_stopping_an_unknown_execution_is_not_found():
    with pytest.raises(NotFound):
        execution_stop(execution_id="no-such-execution", reason="x")


def test_an_execution_stopped_while_it_ends_keeps_its_end(make_host, make_execution):
    make_host(slots=1)
    execution = make_execution()
    execution_dispatch(cluster=execution.cluster)
    execution_launch_begin(execution_id=execution.id)
    execution_mark_running(execution_id=execution.id, engine_ref={"pid": 1})
    execution_end(execution_id=execution.id, outcome=Outcome.EXITED, exit_code=0, reason="")

    execution_stop(execution_id=execution.id, reason="too late")

    row = Execution.objects.get(pk=execution.id)
    assert (row.outcome, row.exit_code, row.stop_requested_at) == (Outcome.EXITED, 0, None)
