"""An execution on a kubernetes cluster, end to end through the executions aggregate: dispatch,
the launch task, and beat's remote poll, against the stand-in API server
(tests/support/fake_kube.py). The launch task and the poll run in this process: the engine is
the party outside our system."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.models import Execution, ExecutionState, Outcome
from domain.executions.selectors import execution_log_page
from domain.executions.services import execution_create
from orchestrator.engines.remote import remote_poll
from orchestrator.tasks.executions import launch
from tests.support.fake_kube import FakeKube

OBJECTS = Path(__file__).parent / "engines" / "k8s_objects"


@pytest.fixture
def kube(kube_cluster: FakeKube) -> FakeKube:
    return kube_cluster


def _finish_like(fake: FakeKube, fixture: str, job_name: str, log: str) -> None:
    """Make the cluster show the Job ended as in a recorded fixture, with `log` as its output."""
    doc = json.loads((OBJECTS / f"{fixture}.json").read_text())
    pod = copy.deepcopy(doc["pods"][0])
    pod["metadata"]["name"] = f"{job_name}-abcde"
    pod["metadata"]["namespace"] = "runs"
    for key in ("job-name", "batch.kubernetes.io/job-name", "regatta.io/execution"):
        pod["metadata"]["labels"][key] = job_name
    fake.put_pod(pod)
    fake.jobs[("runs", job_name)]["status"] = doc["job"]["status"]
    fake.logs[("runs", pod["metadata"]["name"])] = log


def _launched(fake: FakeKube, command: str, **kw) -> Execution:
    execution = execution_create(
        owner_type="test.owner",
        owner_id="alice",
        cluster="k8s",
        command=command,
        env=[],
        image="busybox:1.36",
        **kw,
    )
    assert execution_dispatch(cluster="k8s") == 1
    assert launch(execution.id) == "submitted"
    execution.refresh_from_db()
    assert execution.state == ExecutionState.PENDING
    assert ("runs", execution.engine_ref["job_name"]) in fake.jobs
    return execution


def test_it_runs_a_command_as_a_job_and_records_its_output_and_exit(db, kube):
    execution = _launched(kube, "echo hi")
    assert launch(execution.id) == "already launched or no longer pending"
    assert len(kube.calls("POST", "/jobs")) == 1

    job_name = execution.engine_ref["job_name"]
    lines = "".join(f"line {i}\n" for i in range(2500))
    _finish_like(kube, "succeeded", job_name, "+ echo hi\nhi\n" + lines)
    remote_poll()

    execution.refresh_from_db()
    assert execution.state == ExecutionState.ENDED
    assert (execution.outcome, execution.exit_code) == (Outcome.EXITED, 0)
    # Every page of the log was copied before the end was recorded.
    text, next_line = execution_log_page(execution_id=execution.id, after_line=0, max_lines=10_000)
    assert text == "+ echo hi\nhi\n" + lines
    assert next_line == 2502


def test_it_ends_a_job_stopped_at_its_deadline_as_timed_out(db, kube):
    execution = _launched(kube, "sleep 600", deadline_seconds=60)
    _finish_like(kube, "deadline_exceeded", execution.engine_ref["job_name"], "+ sleep 600\n")
    remote_poll()
    execution.refresh_from_db()
    assert execution.outcome == Outcome.TIMED_OUT
    assert "exceeded specified timeout" in execution.exit_reason


def test_it_ends_an_oom_killed_job_as_oom(db, kube):
    execution = _launched(kube, "python -c 'x = bytearray(10**10)'")
    _finish_like(kube, "oom_killed", execution.engine_ref["job_name"], "")
    remote_poll()
    execution.refresh_from_db()
    assert (execution.outcome, execution.exit_code) == (Outcome.OOM, 137)


def _launch_put_off(fake: FakeKube, status: int) -> Execution:
    """Bob's execution, whose first launch the API server answers with `status`."""
    fake.fail["create_job"] = status
    execution = execution_create(
        owner_type="test.owner",
        owner_id="bob",
        cluster="k8s",
        command="true",
        env=[],
        image="busybox",
    )
    execution_dispatch(cluster="k8s")
    with pytest.raises(Exception):  # noqa: B017 (Celery's Retry or the engine's error)
        launch(execution.id)
    execution.refresh_from_db()
    return execution


def test_it_leaves_a_launch_for_later_when_the_api_server_is_down(db, kube):
    execution = _launch_put_off(kube, 503)
    # Not claimed: the reconciler's next launch message may try again, and then it runs once.
    assert execution.state == ExecutionState.PENDING
    assert execution.launch_started_at is None
    del kube.fail["create_job"]
    assert launch(execution.id) == "submitted"


def test_it_gives_up_a_launch_the_api_server_has_not_taken_for_the_give_up_time(db, kube):
    """A 403 (the engine's Role not granted yet) is "not now", but not for ever."""
    execution = _launch_put_off(kube, 403)
    assert execution.state == ExecutionState.PENDING

    claimed = timezone.now() - timedelta(seconds=conf.LAUNCH_GIVE_UP + 1)
    Execution.objects.filter(pk=execution.id).update(pending_at=claimed)
    assert launch(execution.id) == "gave up"
    execution.refresh_from_db()
    assert (execution.state, execution.outcome) == (ExecutionState.ENDED, Outcome.LAUNCH_FAILED)
    assert "EXECUTIONS_LAUNCH_GIVE_UP" in execution.exit_reason
    assert "403" in execution.exit_reason
    assert ("runs", execution.engine_ref.get("job_name")) not in kube.jobs
