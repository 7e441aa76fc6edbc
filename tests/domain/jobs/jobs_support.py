"""Builders for the job tests: Seed manifests with a command of the test's choosing, job types,
input files, a host of executions (a Host row) for the scheduler to see, and a check of a job's
logs as the Scale API serves them per stream."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from django.utils import timezone

from domain.executions.models import Host
from domain.jobs.conf import jobs_cluster
from domain.jobs.files import file_store
from domain.jobs.job_types import job_type_create
from domain.jobs.models import JobType, ScaleFile
from domain.jobs.workspaces import workspace_default_ensure
from tests.support.api_client import Api

_names = itertools.count(1)


def seed(
    *,
    name: str | None = None,
    command: str = "true",
    timeout: int = 60,
    inputs: dict | None = None,
    outputs: dict | None = None,
    settings: list | None = None,
    errors: list | None = None,
    scalars: list | None = None,
    mounts: list | None = None,
) -> dict[str, Any]:
    interface: dict[str, Any] = {"command": command}
    if mounts:
        interface["mounts"] = mounts
    if inputs:
        interface["inputs"] = inputs
    if outputs:
        interface["outputs"] = outputs
    if settings:
        interface["settings"] = settings
    job: dict[str, Any] = {
        "name": name or f"job-{next(_names)}",
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": "A test job",
        "description": "Runs a command of the test's choosing",
        "maintainer": {"name": "Alice", "email": "alice@example.com"},
        "timeout": timeout,
        "interface": interface,
        "resources": {"scalar": scalars or [{"name": "cpus", "value": 0.25}]},
    }
    if errors:
        job["errors"] = errors
    return {"seedVersion": "1.0.0", "job": job}


def job_type(
    *,
    max_scheduled: int | None = None,
    configuration: Any = None,
    docker_image: str = "regatta/test:1",
    **kw: Any,
) -> JobType:
    saved = job_type_create(
        docker_image=docker_image,
        manifest=seed(**kw),
        configuration=configuration,
        options={"max_scheduled": max_scheduled} if max_scheduled is not None else None,
    )
    return saved.job_type


def host(
    *, name: str = "h1", cluster: str = "", slots: int = 16, cpus: float = 8, mem_mb=16384
) -> Host:
    """A live host of `cluster` (by default, the one jobs run on: SCALE_JOBS_CLUSTER)."""
    return Host.objects.create(
        name=name,
        queue=f"executions.host.{name}",
        clusters=[cluster or jobs_cluster()],
        slots=slots,
        cpus=cpus,
        mem_mb=mem_mb,
        disk_mb=100000,
        gpus=0,
        heartbeat_at=timezone.now(),
    )


def input_file(tmp_path: Path, name: str, text: str) -> ScaleFile:
    source = tmp_path / name
    source.write_text(text)
    return file_store(workspace=workspace_default_ensure(), source=source, path=f"in/{name}")


def job_logs_check(api: Api, job_id: int, *, stdout: list[str], stderr: list[str]) -> None:
    """The first execution of the job serves exactly `stdout` and `stderr` (messages, each
    stream in its order) apart, and both in `combined`; every answer in `scale_order_num`
    order, each line marked with its stream."""
    exe_id = api.get(f"/v6/jobs/{job_id}/executions/1/").json()["id"]

    def served(stream: str) -> list[tuple[str, str]]:
        answer = api.get(f"/v6/job-executions/{exe_id}/logs/{stream}/")
        assert answer.status_code == 200, answer
        lines = json.loads(b"".join(answer.streaming_content))
        orders = [line["scale_order_num"] for line in lines]
        assert orders == sorted(orders)
        return [(line["stream"], line["message"]) for line in lines]

    assert served("stdout") == [("stdout", message) for message in stdout]
    assert served("stderr") == [("stderr", message) for message in stderr]
    combined = served("combined")
    # The order between the two streams is the order they were read in; each keeps its own.
    assert [m for s, m in combined if s == "stdout"] == stdout
    assert [m for s, m in combined if s == "stderr"] == stderr
    assert len(combined) == len(stdout) + len(stderr)
