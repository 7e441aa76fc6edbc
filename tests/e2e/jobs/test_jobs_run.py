"""Jobs that run on a real worker's local engine, end to end: the Seed environment, two output
files stored (in the default host workspace and in an S3 bucket of a real S3-compatible
server), mapped exit codes, timeouts, a lost supervisor retried, cancel of a running job.

Bob (a developer) registers the job types and queues the jobs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import boto3
import pytest

from domain.executions.models import Execution, Host
from domain.executions.sweeps import sweep_lost
from domain.jobs.models import Job, JobEvent, JobStatus, ScaleFile
from domain.jobs.queueing import job_queue_new, jobs_cancel
from domain.jobs.workspaces import workspace_create
from tests.domain.jobs.jobs_support import input_file, job_logs_check, job_type
from tests.support.api_client import Api
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
S = JobStatus

OUTPUTS = {
    "files": [
        {"name": "copies", "pattern": "copy-*.txt", "multiple": True, "mediaType": "text/plain"},
        {"name": "summary", "pattern": "summary.txt"},
    ],
    "json": [{"name": "total", "type": "integer", "key": "totalCount"}],
}
# Writes two files (one copied from the input) and the json output; reads the secret from its
# environment without printing it (bash -x traces every command).
WRITER = (
    'cp "$IMAGE" "$OUTPUT_DIR/copy-1.txt"; '
    'printf "%s:%s:%s" "$COUNT" "$ALLOCATED_CPUS" "$(printenv TOKEN)" > "$OUTPUT_DIR/summary.txt"; '
    'echo "{\\"totalCount\\": $COUNT}" > "$OUTPUT_DIR/seed.outputs.json"'
)


@pytest.fixture(autouse=True)
def host(jobs_host, settings, tmp_path):
    # The default workspace lives in a directory both this process and the worker reach.
    settings.DATA_DIR = str(tmp_path / "data")
    jobs_host.wait_registered()
    yield jobs_host
    jobs_host.settle()


def _writer_type(configuration=None):
    return job_type(
        command=WRITER,
        inputs={"files": [{"name": "IMAGE"}], "json": [{"name": "COUNT", "type": "integer"}]},
        outputs=OUTPUTS,
        settings=[{"name": "TOKEN", "secret": True}],
        configuration={"settings": {"TOKEN": "hunter2"}, **(configuration or {})},
    )


def _wait_final(job_id: int, timeout: float = 60) -> Job:
    def final() -> Job | None:
        job = Job.objects.select_related("error").get(pk=job_id)
        return job if job.status in (S.COMPLETED, S.FAILED, S.CANCELED) else None

    try:
        return wait_until(final, timeout=timeout, interval=0.1, message=f"job {job_id} final")
    except AssertionError:
        events = list(JobEvent.objects.filter(job_id=job_id).values_list("type", "target"))
        executions = list(
            Execution.objects.filter(owner_type="jobs.job", owner_id=str(job_id)).values(
                "state", "host", "cluster", "resources", "exit_reason"
            )
        )
        hosts = list(Host.objects.values("name", "clusters", "slots", "cpus", "mem_mb"))
        raise AssertionError(f"job {job_id} not final: {events} {executions} {hosts}") from None


def test_it_runs_a_job_that_writes_two_outputs_into_the_default_workspace(tmp_path):
    jt = _writer_type()
    image = input_file(tmp_path, "image.txt", "pixels")
    job = job_queue_new(
        job_type_id=jt.pk, data={"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 3}}
    )
    job = _wait_final(job.pk)
    assert job.status == S.COMPLETED, (
        job.error,
        Execution.objects.get(pk=job.execution_id).exit_reason,
    )
    assert job.output["json"] == {"total": 3}
    copies = ScaleFile.objects.get(pk=job.output["files"]["copies"][0])
    summary = ScaleFile.objects.get(pk=job.output["files"]["summary"][0])
    root = Path(copies.workspace.json_config["broker"]["host_path"])
    assert (root / copies.file_path).read_text() == "pixels"
    assert (root / summary.file_path).read_text() == "3:0.25:hunter2"
    assert (copies.job_id, copies.job_exe_num, copies.job_output) == (job.pk, 1, "copies")
    assert summary.media_type == "application/octet-stream" and len(summary.checksum) == 64
    # The secret reached the command and nothing stored with the execution holds it.
    execution = Execution.objects.get(pk=job.execution_id)
    assert "hunter2" not in str(execution.env)
    assert list(JobEvent.objects.filter(job=job).values_list("type", "target")) == [
        ("USER", "QUEUED"),
        ("SCHEDULED", ""),
        ("EXECUTION", "RUNNING"),
        ("EXECUTION", "COMPLETED"),
    ]


def test_it_stores_outputs_in_an_s3_bucket_of_a_real_s3_compatible_server(s3_server, tmp_path):
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        region_name="us-east-1",
        aws_access_key_id="alice-key",
        aws_secret_access_key="alice-secret",
    )
    s3.create_bucket(Bucket="products")
    workspace_create(
        title="Products",
        configuration={
            "broker": {
                "type": "s3",
                "bucket_name": "products",
                "endpoint_url": s3_server.url,
                "credentials": {"access_key_id": "alice-key", "secret_access_key": "alice-secret"},
            }
        },
    )
    jt = _writer_type({"output_workspaces": {"default": "products"}})
    image = input_file(tmp_path, "image.txt", "pixels")
    job = job_queue_new(
        job_type_id=jt.pk, data={"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 2}}
    )
    job = _wait_final(job.pk)
    assert job.status == S.COMPLETED, job.error
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="products")["Contents"])
    assert keys == [
        f"jobs/{job.pk}/1/copies/copy-1.txt",
        f"jobs/{job.pk}/1/summary/summary.txt",
    ]
    body = s3.get_object(Bucket="products", Key=keys[1])["Body"].read()
    assert body == b"2:0.25:hunter2"
    assert ScaleFile.objects.filter(job=job, workspace__name="products").count() == 2


def test_it_fails_with_missing_required_output_and_does_not_retry():
    jt = job_type(command="true", outputs={"files": [{"name": "result", "pattern": "*.csv"}]})
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert (job.status, job.error.name, job.num_exes) == (S.FAILED, "missing-required-output", 1)


def test_it_fails_with_unexpected_multiple_outputs():
    jt = job_type(
        command='touch "$OUTPUT_DIR/a.csv" "$OUTPUT_DIR/b.csv"',
        outputs={"files": [{"name": "result", "pattern": "*.csv"}]},
    )
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert (job.status, job.error.name) == (S.FAILED, "unexpected-multiple-outputs")


def test_it_never_copies_a_symbolic_link_out_of_the_output_directory():
    # The command (as nobody) links a file it cannot read; the collect step (as root) must not
    # read it for it.
    jt = job_type(
        command='ln -s /etc/shadow "$OUTPUT_DIR/secret.csv"',
        outputs={"files": [{"name": "result", "pattern": "*.csv"}]},
    )
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert (job.status, job.error.name) == (S.FAILED, "missing-required-output")
    assert not ScaleFile.objects.exists()


def test_it_fails_a_mapped_exit_code_with_its_error_name_and_category():
    errors = [{"code": 42, "name": "corrupt-input", "category": "data"}]
    jt = job_type(command="exit 42", errors=errors)
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert job.status == S.FAILED and job.num_exes == 1
    assert (job.error.name, job.error.category) == ("corrupt-input", "DATA")


def test_it_fails_a_job_missing_a_setting_and_runs_one_that_brings_it():
    # Bob registers the type without the setting (validation only warns MISSING_SETTING) and
    # completes it per job.
    jt = job_type(command='test "$MODE" = fast', settings=[{"name": "MODE", "secret": False}])
    bare = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert (bare.status, bare.error.name, bare.error.category) == (
        S.FAILED,
        "missing-setting",
        "SYSTEM",
    )
    assert (bare.num_exes, bare.execution_id) == (1, "")
    given = job_queue_new(job_type_id=jt.pk, data={}, configuration={"settings": {"MODE": "fast"}})
    assert _wait_final(given.pk).status == S.COMPLETED


def test_it_times_out_at_the_manifest_timeout_and_does_not_retry():
    jt = job_type(command="sleep 60", timeout=1)
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert (job.status, job.error.name, job.num_exes) == (S.FAILED, "timeout", 1)
    assert Execution.objects.get(pk=job.execution_id).outcome == "timed_out"


def test_it_retries_a_lost_supervisor_up_to_max_tries(host):
    jt = job_type(command="sleep 60")
    job = job_queue_new(job_type_id=jt.pk, data={})
    for attempt in (1, 2, 3):
        running = wait_until(
            lambda n=attempt: Job.objects.filter(pk=job.pk, status=S.RUNNING, num_exes=n).first(),
            timeout=60,
            message=f"attempt {attempt} running",
        )
        execution = Execution.objects.get(pk=running.execution_id)
        # The host's supervisor dies with its command: nothing reports for this execution.
        os.kill(int(execution.engine_ref["supervisor_pid"]), signal.SIGKILL)
        wait_until(
            lambda pk=execution.pk: (
                sweep_lost(timeout=1) or Execution.objects.get(pk=pk).state == "ENDED"
            ),
            timeout=30,
            message="the lost execution swept",
        )
    job = _wait_final(job.pk)
    assert (job.status, job.error.name, job.num_exes) == (S.FAILED, "node-lost", 3)
    assert job.executions.count() == 3


def test_it_does_not_retry_an_algorithm_error():
    jt = job_type(command="exit 7")
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert (job.status, job.error.name, job.error.category) == (
        S.FAILED,
        "algorithm-unknown",
        "ALGORITHM",
    )
    assert job.num_exes == 1


def test_it_stops_the_process_of_a_running_job_when_canceled():
    jt = job_type(command="echo $$ > /tmp/regatta-job-$REGATTA_MARK.pid; sleep 120")
    job = job_queue_new(job_type_id=jt.pk, data={})
    running = wait_until(
        lambda: Job.objects.filter(pk=job.pk, status=S.RUNNING).first(),
        timeout=60,
        message="running",
    )
    pid = Execution.objects.get(pk=running.execution_id).engine_ref["pid"]
    assert _alive(pid)
    jobs_cancel(jobs=Job.objects.filter(pk=job.pk))
    wait_until(lambda: not _alive(pid), timeout=30, message="the command stopped")
    execution = wait_until(
        lambda: Execution.objects.filter(pk=running.execution_id, state="ENDED").first(),
        timeout=30,
        message="the execution ended",
    )
    assert execution.outcome == "stopped"
    job.refresh_from_db()
    assert job.status == S.CANCELED and job.error is None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_it_serves_a_jobs_stdout_and_stderr_apart_and_combined_in_order(dev_token):
    # The command writes to both streams; bash -x traces go to stderr, as the original's did.
    jt = job_type(command="echo out-1; echo err-1 >&2; echo out-2")
    job = _wait_final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert job.status == S.COMPLETED

    job_logs_check(
        Api(dev_token),
        job.pk,
        stdout=["out-1", "out-2"],
        stderr=["+ echo out-1", "+ echo err-1", "err-1", "+ echo out-2"],
    )
