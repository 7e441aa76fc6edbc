"""Fixtures of the end-to-end jobs on a docker cluster: a real worker hosting a cluster of the
docker engine (the machine's real dockerd, the busybox test image), with an allowed root for
host mounts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from orchestrator.engines.docker import docker_host
from tests.support.containers import TEST_IMAGE
from tests.support.jobs_hosts import JobsHost, jobs_host_running


@pytest.fixture(scope="package")
def mount_root() -> Iterator[Path]:
    # Under /tmp itself, readable by all: the container's user (nobody) reads the binds.
    root = Path(tempfile.mkdtemp(prefix="regatta-job-mounts-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def docker_jobs_host(subprocess_env, log_dir, mount_root) -> Iterator[JobsHost]:
    try:
        client = docker.DockerClient(base_url=docker_host({}), version="auto", timeout=30)
        client.images.get(TEST_IMAGE)
        client.close()
    except docker.errors.DockerException as exc:
        pytest.fail(f"dockerd or {TEST_IMAGE} is missing (run `make engines`): {exc}")
    engine = {"engine": "docker", "shell": "sh"}
    extra = {"EXECUTIONS_HOST_MOUNT_ROOTS": str(mount_root)}
    with jobs_host_running(subprocess_env, log_dir, engine, **extra) as host:
        yield host
