"""The executions' stop task on a host: what it does for each kind of engine and state."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import execution_end, execution_launch_begin
from domain.executions.models import Execution, ExecutionState, Outcome
from domain.executions.services import execution_create, execution_stop
from orchestrator.tasks import executions as tasks
from tests.support.executions import OWNER, clusters_known

pytestmark = pytest.mark.django_db


@dataclass
class FakeEngine:
    name: str
    stopped: list[dict] = field(default_factory=list)
    reaped: list[str] = field(default_factory=list)

    def stop(self, ref: dict) -> None:
        self.stopped.append(ref)

    def reap(self, execution_id: str) -> None:
        self.reaped.append(execution_id)


@pytest.fixture
def engines(monkeypatch) -> dict[str, FakeEngine]:
    fakes = {name: FakeEngine(name) for name in conf.ENGINES}
    monkeypatch.setattr(tasks, "engine_named", fakes.__getitem__)
    return fakes


def _launched(cluster: str) -> Execution:
    execution = execution_create(
        owner_type=OWNER, owner_id="o", cluster=cluster, command="sleep 600", env=[]
    )
    execution_dispatch(cluster=cluster)
    execution_launch_begin(execution_id=execution.id)
    Execution.objects.filter(pk=execution.pk).update(
        state=ExecutionState.RUNNING, engine_ref={"job_name": "job-1"}
    )
    return execution


def test_a_remote_execution_is_deleted_and_ends_stopped(engines):
    with clusters_known("far", engine="kubernetes"):
        execution = _launched("far")
        execution_stop(
            execution_id=execution.id, reason="Task terminated by user - bob@example.com"
        )

        assert tasks.stop.apply(args=(execution.id,)).get() == "deleted"
        # The deleted Job is gone from the engine: nobody else would ever see it end.
        row = Execution.objects.get(pk=execution.pk)
        assert (row.state, row.outcome) == (ExecutionState.ENDED, Outcome.STOPPED)
        assert row.exit_reason == "Task terminated by user - bob@example.com"
        assert engines["kubernetes"].stopped == [{"job_name": "job-1"}]

        assert tasks.stop.apply(args=(execution.id,)).get() == "ended already"
        assert len(engines["kubernetes"].stopped) == 1


def test_a_lost_host_execution_has_its_leftovers_reaped(engines):
    from domain.executions.models import Host

    with clusters_known("near"):
        Host.objects.create(name="box", queue=conf.host_queue("box"), clusters=["near"], slots=1)
        execution = _launched("near")
        execution_end(
            execution_id=execution.id, outcome=Outcome.LOST, exit_code=None, reason="lost"
        )

        assert tasks.stop.apply(args=(execution.id,)).get() == "ended; leftovers reaped"
    assert engines["local"].reaped == [execution.id]
