"""Scale jobs on a docker cluster, end to end on a real worker and the real dockerd: a file
input staged read-only into the container, two file outputs written as nobody and stored, and
host mounts read-only and read-write, stdout and stderr served apart. Bob (a developer) registers
the job types."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from domain.executions.models import Execution
from domain.jobs.models import Job, JobStatus, ScaleFile
from domain.jobs.queueing import job_queue_new
from tests.domain.jobs.jobs_support import input_file, job_logs_check, job_type
from tests.support.api_client import Api
from tests.support.containers import TEST_IMAGE
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
S = JobStatus
NOBODY = 65534


@pytest.fixture(autouse=True)
def host(docker_jobs_host, settings, tmp_path, mount_root, monkeypatch):
    settings.DATA_DIR = str(tmp_path / "data")
    # The configuration is checked here (as by the web) and again by the worker's engine.
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", str(mount_root))
    docker_jobs_host.wait_registered()
    yield docker_jobs_host
    docker_jobs_host.settle()


def _final(job_id: int) -> Job:
    def final() -> Job | None:
        job = Job.objects.select_related("error").get(pk=job_id)
        return job if job.status in (S.COMPLETED, S.FAILED, S.CANCELED) else None

    return wait_until(final, timeout=90, interval=0.2, message=f"job {job_id} final")


def _reason(job: Job) -> str:
    return Execution.objects.get(pk=job.execution_id).exit_reason


def test_a_docker_job_reads_its_input_file_and_stores_two_output_files(tmp_path):
    jt = job_type(
        docker_image=TEST_IMAGE,
        command=(
            'tr a-z A-Z < "$IMAGE" > "$OUTPUT_DIR/upper.txt"; '
            'wc -c < "$IMAGE" > "$OUTPUT_DIR/size.txt"; '
            'if echo x > "$IMAGE"; then echo input-writable; exit 9; fi'
        ),
        inputs={"files": [{"name": "IMAGE"}]},
        outputs={
            "files": [
                {"name": "upper", "pattern": "upper.txt"},
                {"name": "size", "pattern": "size.txt"},
            ]
        },
    )
    image = input_file(tmp_path, "image.txt", "pixels")
    job = _final(job_queue_new(job_type_id=jt.pk, data={"files": {"IMAGE": [image.pk]}}).pk)

    assert job.status == S.COMPLETED, (job.error, _reason(job))
    upper = ScaleFile.objects.get(pk=job.output["files"]["upper"][0])
    size = ScaleFile.objects.get(pk=job.output["files"]["size"][0])
    root = Path(upper.workspace.json_config["broker"]["host_path"])
    assert (root / upper.file_path).read_text() == "PIXELS"
    assert (root / size.file_path).read_text().strip() == "6"
    assert (upper.job_id, upper.job_output, size.job_output) == (job.pk, "upper", "size")


def test_a_docker_job_sees_its_host_mounts_read_only_and_read_write(mount_root):
    (mount_root / "refs").mkdir()
    (mount_root / "refs" / "ref.txt").write_text("reference")
    (mount_root / "refs").chmod(0o755)
    (mount_root / "results").mkdir()
    os.chown(mount_root / "results", NOBODY, NOBODY)
    jt = job_type(
        docker_image=TEST_IMAGE,
        command=(
            "cat /refs/ref.txt > /results/copy.txt; "
            "if touch /refs/new; then exit 9; fi; echo refs-read-only"
        ),
        mounts=[
            {"name": "refs", "path": "/refs"},
            {"name": "results", "path": "/results", "mode": "rw"},
        ],
        configuration={
            "mounts": {
                "refs": {"type": "host", "host_path": str(mount_root / "refs")},
                "results": {"type": "host", "host_path": str(mount_root / "results")},
            }
        },
    )
    job = _final(job_queue_new(job_type_id=jt.pk, data={}).pk)

    assert job.status == S.COMPLETED, (job.error, _reason(job))
    assert (mount_root / "results" / "copy.txt").read_text() == "reference"
    assert not (mount_root / "refs" / "new").exists()
    execution = Execution.objects.get(pk=job.execution_id)
    assert [(m["path"], m["mode"]) for m in execution.mounts] == [
        ("/refs", "ro"),
        ("/results", "rw"),
    ]


def test_the_engine_refuses_a_mount_whose_root_was_withdrawn(mount_root, monkeypatch):
    # Allowed where the type was registered, not on the host that runs it: the launch is
    # refused (task-launch) rather than the directory exposed.
    elsewhere = Path(str(mount_root) + "-elsewhere")
    elsewhere.mkdir(exist_ok=True)
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", str(elsewhere))
    jt = job_type(
        docker_image=TEST_IMAGE,
        command="ls /data",
        mounts=[{"name": "data", "path": "/data"}],
        configuration={"mounts": {"data": {"type": "host", "host_path": str(elsewhere)}}},
    )
    jt.max_tries = 1
    jt.save(update_fields=["max_tries"])
    try:
        job = _final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    finally:
        elsewhere.rmdir()

    assert (job.status, job.error.name) == (S.FAILED, "task-launch")
    assert "not under EXECUTIONS_HOST_MOUNT_ROOTS" in _reason(job)


def test_a_docker_job_serves_its_stdout_and_stderr_apart_and_combined(dev_token):
    # As on the local engine: the container's stderr is its own stream, the -x traces in it.
    jt = job_type(docker_image=TEST_IMAGE, command="echo out-1; echo err-1 >&2; echo out-2")
    job = _final(job_queue_new(job_type_id=jt.pk, data={}).pk)
    assert job.status == S.COMPLETED, (job.error, _reason(job))

    job_logs_check(
        Api(dev_token),
        job.pk,
        stdout=["out-1", "out-2"],
        stderr=["+ echo out-1", "+ echo err-1", "err-1", "+ echo out-2"],
    )
