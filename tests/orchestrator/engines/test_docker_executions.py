"""An execution on a docker cluster through the executions aggregate: dispatch to this host's
slot, the launch claim, and the supervisor (run in this process rather than forked) driving the
docker engine against the real dockerd, down to the recorded exit and log."""

from __future__ import annotations

import json

import pytest

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.hosts import host_register
from domain.executions.launches import execution_launch_begin
from domain.executions.models import Execution, ExecutionState, Outcome
from domain.executions.selectors import execution_log_page
from domain.executions.services import execution_create
from orchestrator.engines import launch_spec
from orchestrator.engines.docker import DockerEngine, container_name
from orchestrator.engines.supervisor import Supervisor
from tests.support.containers import TEST_IMAGE, TEST_LABEL, TEST_RUN


@pytest.fixture
def boxes(monkeypatch, dockerd):
    """A docker cluster of busybox containers served by this host, with two slots."""
    clusters = {"boxes": {"engine": "docker", "shell": "sh"}}
    monkeypatch.setenv("EXECUTIONS_CLUSTERS", json.dumps(clusters))
    conf.clusters.cache_clear()
    host_register(
        name=conf.host_name(),
        queue=conf.host_queue(conf.host_name()),
        clusters=["boxes"],
        slots=2,
        cpus=2.0,
        mem_mb=4096,
        disk_mb=4096,
    )
    yield dockerd
    conf.clusters.cache_clear()


def _run_supervised(command: str, **kw) -> Execution:
    execution = execution_create(
        owner_type="test.owner",
        owner_id="alice",
        cluster="boxes",
        command=command,
        env=[("WHO", "Alice")],
        image=TEST_IMAGE,
        labels={TEST_LABEL: TEST_RUN},
        **kw,
    )
    assert execution_dispatch(cluster="boxes") == 1
    order = execution_launch_begin(execution_id=execution.id)
    assert order is not None
    Supervisor(order=order, engine=DockerEngine(), spec=launch_spec(order)).run()
    execution.refresh_from_db()
    return execution


def test_it_runs_a_command_in_a_container_and_records_its_output_and_exit(db, boxes):
    execution = _run_supervised('echo "hi $WHO"')

    assert execution.state == ExecutionState.ENDED
    assert (execution.outcome, execution.exit_code) == (Outcome.EXITED, 0)
    assert execution.engine_ref["container_name"] == container_name(execution.id)
    text, _ = execution_log_page(execution_id=execution.id, after_line=0)
    assert text == "+ echo 'hi Alice'\nhi Alice\n"
    # The supervisor's cleanup removed the container.
    assert boxes.containers.list(all=True, filters={"name": container_name(execution.id)}) == []


def test_it_records_a_failing_commands_exit_code(db, boxes):
    execution = _run_supervised("echo start\n(exit 7)")

    assert (execution.outcome, execution.exit_code) == (Outcome.EXITED, 7)


def test_it_ends_an_oom_killed_container_as_oom(db, boxes):
    execution = _run_supervised(
        "head -c 200m /dev/zero | tail", resources={"mem_mb": 16, "cpus": 1}
    )

    assert (execution.outcome, execution.exit_code) == (Outcome.OOM, 137)
    assert "OOMKilled" in execution.exit_reason


def test_it_ends_a_launch_of_a_missing_image_as_launch_failed(db, boxes):
    execution = execution_create(
        owner_type="test.owner",
        owner_id="alice",
        cluster="boxes",
        command="echo hi",
        env=[],
        image="regatta/never-built:1",
    )
    execution_dispatch(cluster="boxes")
    order = execution_launch_begin(execution_id=execution.id)

    Supervisor(order=order, engine=DockerEngine(), spec=launch_spec(order)).run()

    execution.refresh_from_db()
    assert execution.outcome == Outcome.LAUNCH_FAILED
    assert "no such image on this docker host" in execution.exit_reason
