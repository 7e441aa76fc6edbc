"""A Scale job on a kubernetes cluster, from the scheduler through the launch task to what the
stand-in API server received (tests/support/fake_kube.py): its Job has OUTPUT_DIR on a
writable volume and no secret value anywhere, and the value is in a Secret the Job owns. A
launch the engine refuses leaves no Secret; a Flotilla run's Job gets neither.

Bob registers a `counter` job type whose manifest has one json input and one secret setting,
TOKEN, stored in the secret store.
"""

from __future__ import annotations

import base64
import json

import pytest

from domain.common.errors import InvalidInput
from domain.executions.dispatch import execution_dispatch
from domain.executions.models import Execution, ExecutionState, Outcome
from domain.jobs.models import Job
from domain.jobs.queueing import job_queue_new
from domain.jobs.scheduling import jobs_schedule
from domain.runs.definitions import definition_create
from domain.runs.execute import RunRequest, run_execute
from orchestrator.engines.kubernetes_manifest import OUTPUT_PATH
from orchestrator.tasks.executions import launch
from tests.domain.jobs.jobs_support import host, job_type
from tests.support.fake_kube import FakeKube

pytestmark = pytest.mark.django_db
BOBS_TOKEN = "hunter2-s3cr3t"


@pytest.fixture(autouse=True)
def jobs_on_kubernetes(settings, tmp_path, monkeypatch, kube_cluster):
    settings.DATA_DIR = str(tmp_path / "data")
    monkeypatch.setenv("SCALE_JOBS_CLUSTER", "k8s")
    host(name="k8s-capacity", cluster="k8s")


def _counter(**kw):
    kw.setdefault("command", "echo ${COUNT} > ${OUTPUT_DIR}/count.txt")
    return job_type(
        name="counter",
        inputs={"json": [{"name": "COUNT", "type": "integer"}]},
        settings=[{"name": "TOKEN", "secret": True}],
        configuration={"settings": {"TOKEN": BOBS_TOKEN}},
        **kw,
    )


def _scheduled(job_type_id: int, data: dict) -> Execution:
    job = job_queue_new(job_type_id=job_type_id, data=data)
    assert jobs_schedule() == 1
    assert execution_dispatch(cluster="k8s") == 1
    return Execution.objects.get(pk=Job.objects.get(pk=job.pk).execution_id)


def _job_posted(kube: FakeKube) -> dict:
    (post,) = kube.calls("POST", "/jobs")
    return post.body


def test_bobs_json_only_job_gets_output_dir_and_its_secret_by_reference(kube_cluster):
    execution = _scheduled(_counter().pk, {"json": {"COUNT": 3}})

    assert launch(execution.id) == "submitted"

    job = _job_posted(kube_cluster)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["COUNT"] == {"name": "COUNT", "value": "3"}
    assert env["OUTPUT_DIR"] == {"name": "OUTPUT_DIR", "value": OUTPUT_PATH}
    assert {"name": "outputs", "mountPath": OUTPUT_PATH} in container["volumeMounts"]
    assert {"name": "outputs", "emptyDir": {}} in pod["volumes"]
    assert pod["securityContext"]["fsGroup"] == container["securityContext"]["runAsUser"]
    assert BOBS_TOKEN not in json.dumps(job)

    secret_name = f"{job['metadata']['name']}-env"
    assert env["TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": secret_name, "key": "TOKEN"}}
    secret = kube_cluster.secrets[("runs", secret_name)]
    assert base64.b64decode(secret["data"]["TOKEN"]).decode() == BOBS_TOKEN
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"]["regatta.io/execution"] == execution.id
    job_uid = kube_cluster.jobs[("runs", job["metadata"]["name"])]["metadata"]["uid"]
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", job["metadata"]["name"], job_uid)
    # Nor is the value kept with the execution.
    execution.refresh_from_db()
    assert BOBS_TOKEN not in json.dumps([execution.env, execution.engine_ref, execution.command])


def test_a_job_the_api_server_refuses_leaves_no_secret(kube_cluster):
    kube_cluster.fail["create_job"] = 422
    execution = _scheduled(_counter().pk, {"json": {"COUNT": 3}})

    assert launch(execution.id) == "refused"

    execution.refresh_from_db()
    assert (execution.state, execution.outcome) == (ExecutionState.ENDED, Outcome.LAUNCH_FAILED)
    assert len(kube_cluster.calls("POST", "/secrets")) == 1
    assert kube_cluster.secrets == {}


def test_a_job_with_file_outputs_is_refused_when_it_is_queued(kube_cluster):
    typed = _counter(outputs={"files": [{"name": "COUNT_FILE", "pattern": "count.txt"}]})
    with pytest.raises(InvalidInput, match="jobs cluster k8s runs on kubernetes"):
        job_queue_new(job_type_id=typed.pk, data={"json": {"COUNT": 3}})
    assert not Job.objects.filter(job_type=typed).exists()


def test_a_job_with_file_outputs_is_refused_at_launch_before_any_secret_is_made(
    kube_cluster, monkeypatch
):
    """Queued while jobs ran on another cluster, launched after SCALE_JOBS_CLUSTER moved them."""
    typed = _counter(outputs={"files": [{"name": "COUNT_FILE", "pattern": "count.txt"}]})
    monkeypatch.setenv("SCALE_JOBS_CLUSTER", "elsewhere")
    job = job_queue_new(job_type_id=typed.pk, data={"json": {"COUNT": 3}})
    monkeypatch.setenv("SCALE_JOBS_CLUSTER", "k8s")
    assert jobs_schedule() == 1
    assert execution_dispatch(cluster="k8s") == 1
    execution = Execution.objects.get(pk=Job.objects.get(pk=job.pk).execution_id)

    assert launch(execution.id) == "refused"

    execution.refresh_from_db()
    assert "cannot stage input files or collect output files" in execution.exit_reason
    assert kube_cluster.requests == []


def test_alices_flotilla_run_gets_no_output_dir_and_no_secret(kube_cluster):
    definition = definition_create(alias="hello", image="busybox:1.36", command="echo hi")
    run = run_execute(request=RunRequest(owner="alice", cluster="k8s"), definition_id=definition.pk)
    assert execution_dispatch(cluster="k8s") == 1

    assert launch(run.execution_id) == "submitted"

    job = _job_posted(kube_cluster)
    pod = job["spec"]["template"]["spec"]
    assert "volumes" not in pod and "fsGroup" not in pod["securityContext"]
    names = [entry["name"] for entry in pod["containers"][0].get("env", [])]
    assert "OUTPUT_DIR" not in names
    assert [r.method for r in kube_cluster.requests] == ["POST"]
