"""The kubernetes engine, checked the three ways a machine without a cluster allows:

- every Job it builds against the Kubernetes OpenAPI schema (kubernetes-validate, offline);
- its status mapping against recorded Job/Pod/Event objects (k8s_objects/*.json), turned into
  the client's own models;
- launch/status/stop/read_logs through the real `kubernetes` client against a stand-in API
  server on 127.0.0.1 (tests/support/fake_kube.py).

Nothing here has run against a live cluster.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes import client

from orchestrator.engines import kubernetes as engine_module
from orchestrator.engines.base import EngineUnavailable, LaunchRefused, LaunchSpec
from orchestrator.engines.kubernetes import KubernetesEngine, job_manifest
from orchestrator.engines.kubernetes_manifest import OUTPUT_PATH
from orchestrator.engines.kubernetes_secret import secret_manifest, secret_owner_patch
from orchestrator.engines.kubernetes_status import remote_status
from tests.support.fake_kube import FakeKube, merge_patch

SCHEMA_VERSION = "1.30"
OBJECTS = Path(__file__).parent / "k8s_objects"
MANIFESTS = Path(__file__).parent / "k8s_manifests"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
CLUSTER = {"namespace": "runs", "service_account": "regatta-runner"}

ALICE_RUN = "eks-0a6e3c55-9b1f-4c2d-8e7a-3f5d2b1c9e40"
# Bob's Scale job: a json input, OUTPUT_DIR wanted, one secret setting.
BOB_JOB = "4f1c2a9e-1d7b-4c3e-9a8f-2b6d5e7c1a30"
BOBS_TOKEN = "hunter2-s3cr3t"


def spec_for(**overrides) -> LaunchSpec:
    fields = {
        "execution_id": ALICE_RUN,
        "command": "echo hi",
        "env": [],
        "image": "python:3.12-slim",
        "options": dict(CLUSTER),
    }
    return LaunchSpec(**(fields | overrides))


SPECS = {
    "minimal": spec_for(options={}),
    "resources": spec_for(cpus=0.5, mem_mb=512, disk_mb=2048),
    "gpu": spec_for(cpus=4, mem_mb=16384, gpus=2),
    "env with duplicates": spec_for(
        env=[("FLOTILLA_RUN_ID", ALICE_RUN), ("MODE", "dev"), ("", "dropped"), ("MODE", "prod")]
    ),
    "odd labels": spec_for(
        labels={
            "owner": "alice@example.com",
            "team/name": "data science!",
            "kubernetes.io/hostname": "hijack",
            "UPPER.Example.COM/x": "-_value_-",
            "a" * 80: "b" * 80,
            "!!!": "nothing left of the key",
        }
    ),
    "huge deadline": spec_for(deadline_seconds=10**30),
    "odd execution id": spec_for(execution_id="Bob's RUN #7 / retry_2"),
    "dollars in the command": spec_for(
        command="echo $HOME $(date) $$", env=[("PRICE", "$(COST) and $5")]
    ),
}


def container_of(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"]["containers"][0]


def bobs_job_spec(**overrides) -> LaunchSpec:
    fields = {
        "execution_id": BOB_JOB,
        "env": [("COUNT", "3"), ("ALLOCATED_CPUS", "0.25")],
        "labels": {"job_id": "7", "job_type": "counter"},
        "output_env": "OUTPUT_DIR",
        "secret_env": lambda: [("TOKEN", BOBS_TOKEN)],
    }
    return spec_for(**(fields | overrides))


# The manifest, against the schema ------------------------------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_it_builds_jobs_the_kubernetes_schema_accepts(name):
    manifest = job_manifest(SPECS[name])

    checked = kubernetes_validate.validate(manifest, SCHEMA_VERSION, strict=True)

    assert checked == SCHEMA_VERSION
    assert DNS_LABEL.match(manifest["metadata"]["name"])
    for key, value in manifest["metadata"]["labels"].items():
        prefix, _, label = key.rpartition("/")
        assert LABEL_NAME.match(label), key
        assert LABEL_VALUE.match(value), value


def test_it_knows_the_schema_check_bites():
    broken = job_manifest(SPECS["minimal"])
    broken["spec"]["backoffLimit"] = "x"

    with pytest.raises(kubernetes_validate.ValidationError, match="backoffLimit"):
        kubernetes_validate.validate(broken, SCHEMA_VERSION, strict=True)

    misspelt = job_manifest(SPECS["minimal"])
    misspelt["spec"]["template"]["spec"]["restartPolicyy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, SCHEMA_VERSION, strict=True)


def test_it_builds_a_scale_jobs_job_and_secret_the_schema_accepts():
    job = job_manifest(bobs_job_spec(), secret_names=["TOKEN"])
    secret = secret_manifest(job=job, env=[("TOKEN", BOBS_TOKEN)])
    owned = merge_patch(secret, secret_owner_patch(job_name=BOB_JOB, job_uid="0b5e-uid"))

    for manifest in (job, secret, owned):
        assert kubernetes_validate.validate(manifest, SCHEMA_VERSION, strict=True)
    misspelt = secret | {"immutible": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, SCHEMA_VERSION, strict=True)


def test_it_gives_a_scale_job_a_writable_output_dir_and_only_refers_to_its_secret():
    job = job_manifest(bobs_job_spec(), secret_names=["TOKEN"])
    pod = job["spec"]["template"]["spec"]
    container = container_of(job)

    assert container["env"] == [
        {"name": "COUNT", "value": "3"},
        {"name": "ALLOCATED_CPUS", "value": "0.25"},
        {"name": "OUTPUT_DIR", "value": OUTPUT_PATH},
        {
            "name": "TOKEN",
            "valueFrom": {"secretKeyRef": {"name": f"{BOB_JOB}-env", "key": "TOKEN"}},
        },
    ]
    (volume,) = pod["volumes"]
    assert volume == {"name": "outputs", "emptyDir": {}}
    assert container["volumeMounts"] == [{"name": "outputs", "mountPath": OUTPUT_PATH}]
    # The emptyDir is handed to the group the unprivileged user runs as.
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"] == 65534
    assert BOBS_TOKEN not in json.dumps(job)


def test_it_puts_the_secret_values_in_an_opaque_secret_labelled_like_the_job():
    job = job_manifest(bobs_job_spec(), secret_names=["TOKEN"])

    secret = secret_manifest(job=job, env=[("TOKEN", BOBS_TOKEN), ("DOLLARS", "$(HOME) $$")])

    assert (secret["kind"], secret["type"]) == ("Secret", "Opaque")
    assert secret["metadata"]["name"] == f"{BOB_JOB}-env"
    assert secret["metadata"]["namespace"] == "runs"
    assert secret["metadata"]["labels"]["regatta.io/execution"] == BOB_JOB
    assert secret["metadata"]["labels"] == job["metadata"]["labels"]
    # Values read from a Secret are not expanded by Kubernetes: stored exactly as given.
    assert decoded(secret) == {"TOKEN": BOBS_TOKEN, "DOLLARS": "$(HOME) $$"}
    with pytest.raises(LaunchRefused, match="cannot be a Kubernetes Secret key"):
        secret_manifest(job=job, env=[("NOT A KEY", "x")])


def decoded(secret: dict) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def test_it_keeps_a_flotilla_runs_job_as_it_was():
    spec = spec_for(
        command="echo $FLOTILLA_RUN_ID",
        env=[("FLOTILLA_RUN_ID", ALICE_RUN), ("MODE", "prod")],
        cpus=0.5,
        mem_mb=512,
        disk_mb=2048,
        deadline_seconds=3600,
        labels={"cluster_name": "batch", "owner_id": "alice"},
    )

    # Recorded before Scale jobs got an output directory and a Secret on this engine.
    assert job_manifest(spec) == json.loads((MANIFESTS / "flotilla_run.json").read_text())


def test_it_builds_flotillas_job_for_alices_run():
    manifest = job_manifest(SPECS["resources"])
    spec = manifest["spec"]
    pod = spec["template"]["spec"]
    container = container_of(manifest)

    assert manifest["metadata"]["name"] == ALICE_RUN
    assert manifest["metadata"]["namespace"] == "runs"
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (0, 172800)
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "regatta-runner"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65534
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["name"] == "main"
    assert container["command"] == ["bash", "-cex", "echo hi"]
    expected = {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "2048Mi"}
    assert container["resources"] == {"requests": expected, "limits": expected}
    assert spec["template"]["metadata"]["labels"]["regatta.io/execution"] == ALICE_RUN


def test_it_asks_for_gpus_as_requests_equal_to_limits():
    resources = container_of(job_manifest(SPECS["gpu"]))["resources"]

    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert resources["requests"] == resources["limits"]
    assert resources["limits"]["cpu"] == "4000m"


def test_it_lets_later_env_names_win_where_they_stand():
    env = container_of(job_manifest(SPECS["env with duplicates"]))["env"]

    assert env == [
        {"name": "FLOTILLA_RUN_ID", "value": ALICE_RUN},
        {"name": "MODE", "value": "prod"},
    ]


def test_it_makes_odd_labels_valid_and_keeps_ours_unclaimable():
    labels = job_manifest(SPECS["odd labels"])["metadata"]["labels"]

    assert labels["owner"] == "alice-example.com"
    assert labels["team/name"] == "data-science"
    assert labels["hostname"] == "hijack"  # kubernetes.io/ is Kubernetes' own prefix
    assert labels["upper.example.com/x"] == "value"
    assert labels["a" * 63] == "b" * 63
    assert labels["regatta.io/execution"] == ALICE_RUN
    assert not any(key.startswith("kubernetes.io/") for key in labels)
    hijacked = job_manifest(spec_for(labels={"regatta.io/execution": "someone-else"}))
    assert hijacked["metadata"]["labels"]["regatta.io/execution"] == ALICE_RUN


def test_it_caps_a_huge_deadline_at_what_kubernetes_can_hold():
    assert job_manifest(SPECS["huge deadline"])["spec"]["activeDeadlineSeconds"] == 2**63 - 1


def test_it_names_a_job_after_an_odd_id_safely_and_distinctly():
    name = job_manifest(SPECS["odd execution id"])["metadata"]["name"]
    other = job_manifest(spec_for(execution_id="Bob's RUN #7 / retry-2"))["metadata"]["name"]

    assert DNS_LABEL.match(name)
    assert name.startswith("bob-s-run-7-retry-2-")
    assert other != name
    assert DNS_LABEL.match(job_manifest(spec_for(execution_id="x" * 200))["metadata"]["name"])


def test_it_hands_bash_the_command_and_env_exactly_as_written():
    # Kubernetes expands $(NAME) and turns $$ into $ in commands and env values.
    container = container_of(job_manifest(SPECS["dollars in the command"]))

    assert container["command"][2] == "echo $$HOME $$(date) $$$$"
    assert container["env"] == [{"name": "PRICE", "value": "$$(COST) and $$5"}]


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"image": ""}, "needs an image"),
        ({"options": {"namespace": "Not A Namespace"}}, "namespace"),
        ({"deadline_seconds": 0}, "deadline"),
        ({"cpus": float("inf")}, "cpus"),
        ({"cpus": -1.0}, "cpus"),
        ({"mem_mb": -5}, "mem_mb"),
        ({"gpus": 1.5}, "gpus"),
    ],
)
def test_it_refuses_a_spec_no_cluster_could_run(overrides, why):
    with pytest.raises(LaunchRefused, match=why):
        job_manifest(spec_for(**overrides))


# The status mapping, against recorded objects ------------------------------------------------


def recorded(name: str, edit=None) -> tuple:
    """A fixture's Job, pods and events (after `edit(doc)`) as the client's own models."""
    doc = json.loads((OBJECTS / f"{name}.json").read_text())
    if edit is not None:
        edit(doc)
    deserialize = client.ApiClient()._ApiClient__deserialize
    job = deserialize(doc["job"], "V1Job") if doc["job"] else None
    pods = [deserialize(pod, "V1Pod") for pod in doc["pods"]]
    events = [deserialize(event, "CoreV1Event") for event in doc["events"]]
    return job, pods, events


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_recorded_objects_are_valid_kubernetes_objects():
    for path in sorted(OBJECTS.glob("*.json")):
        doc = json.loads(path.read_text())
        for obj in ([doc["job"]] if doc["job"] else []) + doc["pods"] + doc["events"]:
            assert kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True), path.name


def test_it_reads_a_pending_pod_as_pending():
    status = remote_status(*recorded("pending"))

    assert status.state == "PENDING"
    assert status.exit is None
    assert status.ref["pod_name"] == f"{ALICE_RUN}-x7k2p"
    assert status.ref["attempt_count"] == 1
    assert [e["reason"] for e in status.events] == ["Scheduled", "Pulling"]


def test_it_reads_a_running_pod_as_running_since_its_container_started():
    status = remote_status(*recorded("running"))

    assert status.state == "RUNNING"
    assert status.started_at == at("2024-05-14T10:00:03")
    assert status.ref["node_name"] == "ip-10-0-1-23.ec2.internal"
    assert status.events[0] == {
        "timestamp": "2024-05-14T10:00:01.204117+00:00",
        "event_type": "Normal",
        "reason": "Scheduled",
        "source_object": "eks-1b7f4d66-ac20-4d3e-9f8b-4a6e3c2d0f51-q4m9z",
        "message": "Successfully assigned runs/eks-1b7f4d66-ac20-4d3e-9f8b-4a6e3c2d0f51-q4m9z "
        "to ip-10-0-1-23.ec2.internal",
    }


def test_it_reads_a_succeeded_job_as_ended_with_exit_0():
    status = remote_status(*recorded("succeeded"))

    assert status.state == "ENDED"
    assert status.exit.exit_code == 0
    assert status.exit.oom is False
    assert status.exit.reason == (
        "Pod eks-2c8a5e77-bd31-4e4f-a09c-5b7f4d3e1a62-r8n3w Exited Successfully"
    )
    assert (status.started_at, status.finished_at) == (
        at("2024-05-14T10:00:03"),
        at("2024-05-14T10:04:17"),
    )


def test_it_reads_a_failed_job_with_its_containers_exit_code():
    status = remote_status(*recorded("failed_exit_3"))

    assert status.state == "ENDED"
    assert status.exit.exit_code == 3
    assert status.exit.oom is False
    assert "exited with code 3 (Error)" in status.exit.reason
    assert status.finished_at == at("2024-05-14T10:01:12")
    assert "BackoffLimitExceeded" in [e["reason"] for e in status.events]


def test_it_reads_an_oom_kill_as_oom_with_exit_137():
    status = remote_status(*recorded("oom_killed"))

    assert status.state == "ENDED"
    assert (status.exit.exit_code, status.exit.oom) == (137, True)
    assert status.exit.reason.startswith("OOMKilled")


def test_it_says_when_the_deadline_ended_the_job():
    status = remote_status(*recorded("deadline_exceeded"))

    assert status.state == "ENDED"
    assert status.exit.exit_code == 143
    assert status.exit.oom is False
    assert status.exit.reason == (
        "JobRun exceeded specified timeout of 600 seconds (DeadlineExceeded)"
    )


def finished_before_the_job_controller_noticed(exit_code: int, reason: str):
    def edit(doc: dict) -> None:
        (pod,) = doc["pods"]
        pod["status"]["phase"] = "Succeeded" if exit_code == 0 else "Failed"
        pod["status"]["containerStatuses"][0]["state"] = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": "2024-05-14T10:00:03Z",
                "finishedAt": "2024-05-14T10:00:09Z",
            }
        }

    return edit


def test_it_believes_a_finished_pod_before_its_job_says_so():
    # The Job still counts the pod active: the controller has not caught up with the kubelet.
    succeeded = remote_status(
        *recorded("running", finished_before_the_job_controller_noticed(0, "Completed"))
    )
    failed = remote_status(
        *recorded("running", finished_before_the_job_controller_noticed(2, "Error"))
    )

    assert (succeeded.state, succeeded.exit.exit_code) == ("ENDED", 0)
    assert succeeded.finished_at == at("2024-05-14T10:00:09")
    assert (failed.state, failed.exit.exit_code, failed.exit.oom) == ("ENDED", 2, False)
    assert "exited with code 2 (Error)" in failed.exit.reason


def test_it_reads_a_missing_job_as_missing():
    status = remote_status(*recorded("job_missing"))

    assert status.state == "MISSING"
    assert status.exit is None


def test_it_follows_the_newest_pod_and_counts_every_scheduling():
    status = remote_status(*recorded("several_pods"))

    # The older pod failed; its replacement (created later, though its name sorts first) runs.
    assert status.state == "RUNNING"
    assert status.ref["pod_name"] == "eks-6a2e9cbb-f175-4283-e4d3-9fb38b725ea6-b6c4f"
    assert status.ref["node_name"] == "ip-10-0-2-57.ec2.internal"
    assert status.ref["attempt_count"] == 2
    assert status.started_at == at("2024-05-14T10:20:09")


def test_it_shows_why_a_job_has_no_pod_yet():
    status = remote_status(*recorded("no_pod_quota"))

    assert status.state == "PENDING"
    assert status.ref == {}
    assert status.events[0]["reason"] == "FailedCreate"
    assert "exceeded quota" in status.events[0]["message"]


# Through the real client, against a stand-in API server --------------------------------------


@pytest.fixture
def kube():
    fake = FakeKube().start()
    yield fake
    fake.stop()


@pytest.fixture
def kubeconfig(kube, tmp_path) -> str:
    return str(kube.kubeconfig(tmp_path / "kubeconfig"))


@pytest.fixture
def engine() -> KubernetesEngine:
    return KubernetesEngine()


def cluster_spec(kubeconfig: str, **overrides) -> LaunchSpec:
    return spec_for(options=CLUSTER | {"kubeconfig": kubeconfig}, **overrides)


def load_recorded(kube: FakeKube, name: str) -> dict:
    doc = json.loads((OBJECTS / f"{name}.json").read_text())
    job = doc["job"]
    if job:
        kube.jobs[(job["metadata"]["namespace"], job["metadata"]["name"])] = job
    for pod in doc["pods"]:
        kube.put_pod(pod)
    for event in doc["events"]:
        kube.put_event(event)
    return doc


def test_it_posts_the_manifest_and_returns_where_the_job_is(kube, kubeconfig, engine):
    spec = cluster_spec(kubeconfig, cpus=1.5, mem_mb=1024, env=[("MODE", "prod")])

    ref = engine.launch(spec)

    assert ref == {"job_name": ALICE_RUN, "namespace": "runs", "kubeconfig": kubeconfig}
    (post,) = kube.calls("POST", "/apis/batch/v1/namespaces/runs/jobs")
    assert post.body == job_manifest(spec)
    assert ("runs", ALICE_RUN) in kube.jobs


def test_it_counts_an_existing_job_as_submitted(kube, kubeconfig, engine):
    first = engine.launch(cluster_spec(kubeconfig))

    again = engine.launch(cluster_spec(kubeconfig))

    assert again == first
    assert len(kube.calls("POST")) == 2
    assert list(kube.jobs) == [("runs", ALICE_RUN)]


@pytest.mark.parametrize("code", [500, 503, 429, 403])
def test_it_reports_a_server_that_cannot_take_the_job_now_as_unavailable(
    kube, kubeconfig, engine, code
):
    kube.fail["create_job"] = code

    with pytest.raises(EngineUnavailable, match=str(code)):
        engine.launch(cluster_spec(kubeconfig))


@pytest.mark.parametrize("code", [400, 422, 404])
def test_it_reports_a_job_the_server_refuses_as_refused(kube, kubeconfig, engine, code):
    kube.fail["create_job"] = code

    with pytest.raises(LaunchRefused, match="refused the Job"):
        engine.launch(cluster_spec(kubeconfig))


def test_it_reports_an_unreachable_server_as_unavailable(kube, kubeconfig, engine):
    engine.launch(cluster_spec(kubeconfig))  # the client now keeps a connection open
    kube.stop()

    with pytest.raises(EngineUnavailable, match="unreachable"):
        engine.launch(cluster_spec(kubeconfig, execution_id="eks-second-run"))
    with pytest.raises(EngineUnavailable):
        engine.status({"job_name": ALICE_RUN, "namespace": "runs", "kubeconfig": kubeconfig})


def test_it_reports_wrong_credentials_as_unavailable(kube, kubeconfig, engine):
    kube.token = "rotated-token"

    with pytest.raises(EngineUnavailable, match="401"):
        engine.launch(cluster_spec(kubeconfig))


@pytest.mark.parametrize(
    "name",
    [
        "pending",
        "running",
        "succeeded",
        "failed_exit_3",
        "oom_killed",
        "deadline_exceeded",
        "several_pods",
        "no_pod_quota",
        "job_missing",
    ],
)
def test_it_reads_the_same_status_over_the_wire(kube, kubeconfig, engine, name):
    doc = load_recorded(kube, name)
    job_name = doc["job"]["metadata"]["name"] if doc["job"] else doc["answer"]["details"]["name"]

    status = engine.status({"job_name": job_name, "namespace": "runs", "kubeconfig": kubeconfig})

    assert status == remote_status(*recorded(name))
    (pods_call,) = kube.calls("GET", "/pods") or [None]
    if doc["job"]:
        assert pods_call.query["labelSelector"] == [f"job-name={job_name}"]


def test_it_reads_status_without_events_it_may_not_list(kube, kubeconfig, engine):
    load_recorded(kube, "running")
    kube.fail["list_events"] = 403
    ref = {"job_name": "eks-1b7f4d66-ac20-4d3e-9f8b-4a6e3c2d0f51", "namespace": "runs"}

    status = engine.status(ref | {"kubeconfig": kubeconfig})

    assert status.state == "RUNNING"
    assert status.events == []


@pytest.mark.parametrize("operation", ["read_job", "list_pods"])
def test_it_reports_a_failing_status_read_as_unavailable(kube, kubeconfig, engine, operation):
    load_recorded(kube, "running")
    kube.fail[operation] = 500
    ref = {"job_name": "eks-1b7f4d66-ac20-4d3e-9f8b-4a6e3c2d0f51", "namespace": "runs"}

    with pytest.raises(EngineUnavailable, match="500"):
        engine.status(ref | {"kubeconfig": kubeconfig})


def test_it_stops_a_job_with_foreground_propagation(kube, kubeconfig, engine):
    ref = engine.launch(cluster_spec(kubeconfig))

    engine.stop(ref)

    (delete,) = kube.calls("DELETE")
    assert delete.path == f"/apis/batch/v1/namespaces/runs/jobs/{ALICE_RUN}"
    assert delete.body["propagationPolicy"] == "Foreground"
    assert ("runs", ALICE_RUN) not in kube.jobs
    assert engine.status(ref).state == "MISSING"


def test_it_takes_a_job_already_gone_as_stopped(kube, kubeconfig, engine):
    ref = engine.launch(cluster_spec(kubeconfig))
    engine.stop(ref)

    engine.stop(ref)

    assert len(kube.calls("DELETE")) == 2


def test_it_reports_a_failing_stop_as_unavailable(kube, kubeconfig, engine):
    ref = engine.launch(cluster_spec(kubeconfig))
    kube.fail["delete_job"] = 500

    with pytest.raises(EngineUnavailable, match="deleting the Job"):
        engine.stop(ref)
    assert ("runs", ALICE_RUN) in kube.jobs


# A Scale job's Secret ---------------------------------------------------------------------------

BOBS_SECRET = ("runs", f"{BOB_JOB}-env")


def test_it_makes_the_secret_then_the_job_then_makes_the_job_its_owner(kube, kubeconfig, engine):
    spec = bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig})

    ref = engine.launch(spec)

    assert ref["job_name"] == BOB_JOB
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in kube.requests] == [
        ("POST", "secrets"),
        ("POST", "jobs"),
        ("PATCH", f"{BOB_JOB}-env"),
    ]
    (post,) = kube.calls("POST", "/jobs")
    assert post.body == job_manifest(spec, secret_names=["TOKEN"])
    assert BOBS_TOKEN not in json.dumps(post.body)
    secret = kube.secrets[BOBS_SECRET]
    assert decoded(secret) == {"TOKEN": BOBS_TOKEN}
    job_uid = kube.jobs[("runs", BOB_JOB)]["metadata"]["uid"]
    assert secret["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": BOB_JOB, "uid": job_uid}
    ]


def test_a_retried_launch_finds_its_secret_and_job_and_owns_the_secret(kube, kubeconfig, engine):
    spec = bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig})
    kube.fail["patch_secret"] = 503
    with pytest.raises(EngineUnavailable, match="owner"):
        engine.launch(spec)
    assert "ownerReferences" not in kube.secrets[BOBS_SECRET]["metadata"]
    del kube.fail["patch_secret"]

    ref = engine.launch(spec)

    assert ref["job_name"] == BOB_JOB
    assert len(kube.jobs) == len(kube.secrets) == 1
    job_uid = kube.jobs[("runs", BOB_JOB)]["metadata"]["uid"]
    (owner,) = kube.secrets[BOBS_SECRET]["metadata"]["ownerReferences"]
    assert owner["uid"] == job_uid
    # The Job existed: its uid was read back, since the second POST answered 409.
    assert kube.calls("GET", f"/jobs/{BOB_JOB}")


@pytest.mark.parametrize(
    ("code", "error"), [(422, LaunchRefused), (400, LaunchRefused), (503, EngineUnavailable)]
)
def test_a_job_the_server_does_not_take_leaves_no_secret(kube, kubeconfig, engine, code, error):
    kube.fail["create_job"] = code

    with pytest.raises(error, match="the Job"):
        engine.launch(bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig}))

    assert len(kube.calls("POST", "/secrets")) == 1
    assert len(kube.calls("DELETE", f"/secrets/{BOB_JOB}-env")) == 1
    assert kube.secrets == {}
    assert kube.jobs == {}


def test_a_secret_the_server_does_not_take_means_no_job(kube, kubeconfig, engine):
    kube.fail["create_secret"] = 403  # no RBAC for secrets yet: an operator can fix it

    with pytest.raises(EngineUnavailable, match="cannot take the Secret now: 403"):
        engine.launch(bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig}))

    assert kube.calls("POST", "/jobs") == []


def test_a_refused_spec_makes_no_secret(kube, kubeconfig, engine):
    staging = bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig}, stages_files=True)
    with pytest.raises(LaunchRefused, match="cannot stage input files"):
        engine.launch(staging)

    def unreadable() -> list[tuple[str, str]]:
        raise RuntimeError("stored secrets 'counter-1.0.0' do not decrypt")

    broken = bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig}, secret_env=unreadable)
    with pytest.raises(LaunchRefused, match="could not read the secret variables: stored"):
        engine.launch(broken)

    assert kube.requests == []


def test_a_job_without_secret_values_gets_no_secret(kube, kubeconfig, engine):
    spec = bobs_job_spec(options=CLUSTER | {"kubeconfig": kubeconfig}, secret_env=lambda: [])

    engine.launch(spec)

    (post,) = kube.calls("POST")
    assert post.body == job_manifest(spec)
    assert "valueFrom" not in json.dumps(post.body)
    assert kube.secrets == {}


# Logs -----------------------------------------------------------------------------------------


def running_pod(kube: FakeKube) -> tuple[dict, str]:
    doc = load_recorded(kube, "running")
    (pod,) = doc["pods"]
    ref = {"job_name": doc["job"]["metadata"]["name"], "namespace": "runs"}
    return ref, pod["metadata"]["name"]


def test_it_reads_log_lines_after_an_offset(kube, kubeconfig, engine):
    ref, pod = running_pod(kube)
    ref["kubeconfig"] = kubeconfig
    kube.logs[("runs", pod)] = "+ echo hi\nhi\n+ echo there\nthere\n"

    first, offset = engine.read_logs(ref, 0)
    rest, end = engine.read_logs(ref, 2)
    nothing, same = engine.read_logs(ref, 4)

    assert (first, offset) == (["+ echo hi\n", "hi\n", "+ echo there\n", "there\n"], 4)
    assert (rest, end) == (["+ echo there\n", "there\n"], 4)
    assert (nothing, same) == ([], 4)
    (log_call, *_) = kube.calls("GET", "/log")
    assert log_call.query["container"] == ["main"]
    assert log_call.path == f"/api/v1/namespaces/runs/pods/{pod}/log"


def test_it_holds_back_an_unfinished_line_until_the_pod_ends(kube, kubeconfig, engine):
    ref, pod = running_pod(kube)
    ref["kubeconfig"] = kubeconfig
    kube.logs[("runs", pod)] = "done\nhalf a li"

    while_running, offset = engine.read_logs(ref, 0)
    kube.pods[("runs", pod)]["status"]["phase"] = "Succeeded"
    after_the_end, end = engine.read_logs(ref, offset)

    assert (while_running, offset) == (["done\n"], 1)
    assert (after_the_end, end) == (["half a li\n"], 2)


def test_it_reads_a_long_log_a_bounded_page_at_a_time(kube, kubeconfig, engine):
    ref, pod = running_pod(kube)
    ref["kubeconfig"] = kubeconfig
    total = engine_module.LOG_PAGE_LINES * 2 + 17
    kube.logs[("runs", pod)] = "".join(f"line {n}\n" for n in range(total))

    collected, offset, calls = [], 0, 0
    while True:
        lines, offset = engine.read_logs(ref, offset)
        if not lines:
            break
        assert len(lines) <= engine_module.LOG_PAGE_LINES
        collected += lines
        calls += 1

    assert collected == [f"line {n}\n" for n in range(total)]
    assert calls == 3


def test_it_cuts_a_huge_line_but_counts_it_once(kube, kubeconfig, engine):
    ref, pod = running_pod(kube)
    ref["kubeconfig"] = kubeconfig
    kube.logs[("runs", pod)] = "x" * (engine_module.LOG_MAX_LINE_BYTES * 3) + "\nnext\n"

    lines, offset = engine.read_logs(ref, 0)

    assert offset == 2
    assert lines[0].endswith(engine_module.TRUNCATED + "\n")
    assert len(lines[0]) == engine_module.LOG_MAX_LINE_BYTES + len(engine_module.TRUNCATED) + 1
    assert lines[1] == "next\n"


def test_it_reads_no_log_before_there_is_one(kube, kubeconfig, engine):
    ref = engine.launch(cluster_spec(kubeconfig))
    assert engine.read_logs(ref, 0) == ([], 0)  # no pod yet

    load_recorded(kube, "pending")  # a pod whose container waits: the server answers 400
    pending = {"job_name": "eks-0a6e3c55-9b1f-4c2d-8e7a-3f5d2b1c9e40", "namespace": "runs"}
    assert engine.read_logs(pending | {"kubeconfig": kubeconfig}, 5) == ([], 5)


def test_it_reports_a_failing_log_read_as_unavailable(kube, kubeconfig, engine):
    ref, pod = running_pod(kube)
    kube.logs[("runs", pod)] = "hi\n"
    kube.fail["read_log"] = 500

    with pytest.raises(EngineUnavailable, match="reading the log"):
        engine.read_logs(ref | {"kubeconfig": kubeconfig}, 0)


# Configuration --------------------------------------------------------------------------------


def test_it_finds_the_cluster_through_kubeconfig(kube, kubeconfig, engine, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    spec = spec_for(options={"namespace": "runs"})

    ref = engine.launch(spec)

    assert ref == {"job_name": ALICE_RUN, "namespace": "runs"}
    assert ("runs", ALICE_RUN) in kube.jobs
    assert engine.status(ref).state == "PENDING"


def test_it_uses_the_context_the_cluster_names(kube, tmp_path, engine):
    path = str(kube.kubeconfig(tmp_path / "contexts", context="batch-cluster"))
    spec = spec_for(options={"kubeconfig": path, "context": "batch-cluster"})

    ref = engine.launch(spec)

    assert ref["context"] == "batch-cluster"
    assert ("default", ALICE_RUN) in kube.jobs
    wrong = spec_for(options={"kubeconfig": path, "context": "no-such-context"})
    with pytest.raises(EngineUnavailable, match="configuration"):
        engine.launch(wrong)


def test_it_reports_no_configuration_as_unavailable(engine, monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(EngineUnavailable, match="no usable Kubernetes configuration"):
        engine.launch(spec_for(options={}))


# RBAC -----------------------------------------------------------------------------------------


def test_it_ships_a_role_with_exactly_the_rights_the_docs_list():
    path = Path(__file__).parents[3] / "deploy" / "kubernetes" / "engine-rbac.yaml"
    documents = list(yaml.safe_load_all(path.read_text()))
    for document in documents:
        assert kubernetes_validate.validate(document, SCHEMA_VERSION, strict=True)
    (role,) = [d for d in documents if d["kind"] == "Role"]

    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }

    assert granted == {
        ("batch", "jobs", "create"),
        ("batch", "jobs", "get"),
        ("batch", "jobs", "delete"),
        ("", "pods", "get"),
        ("", "pods", "list"),
        ("", "pods/log", "get"),
        ("", "events", "list"),
        ("", "secrets", "create"),
        ("", "secrets", "patch"),
        ("", "secrets", "delete"),
    }
