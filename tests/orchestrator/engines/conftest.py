"""Fixtures for the engines: the docker tests run against the real dockerd of this machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import docker
import pytest

from orchestrator.engines.base import LaunchSpec
from orchestrator.engines.docker import DockerEngine, DockerProcess, docker_host
from tests.support.containers import BUSYBOX, TEST_IMAGE, TEST_LABEL, TEST_RUN, execution_id


@pytest.fixture(scope="session")
def dockerd() -> Iterator[docker.DockerClient]:
    """A client of the real dockerd. A missing daemon or image fails the test with the reason,
    never skips it: `make engines` (deploy/ensure-engines.sh) installs and starts them."""
    host = docker_host({})
    try:
        client = docker.DockerClient(base_url=host, version="auto", timeout=30)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"dockerd at {host} does not answer (run `make engines`): {exc}")
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the test image {TEST_IMAGE} is missing (run `make engines`)")
    yield client
    client.close()


@pytest.fixture
def docker_engine(dockerd) -> DockerEngine:
    return DockerEngine()


@pytest.fixture
def spec_for() -> Callable[..., LaunchSpec]:
    """A LaunchSpec of the test image with the busybox shell; keywords override any field."""

    def build(actor: str, command: str, **fields) -> LaunchSpec:
        fields.setdefault("env", [])
        fields.setdefault("image", TEST_IMAGE)
        fields.setdefault("options", dict(BUSYBOX))
        fields.setdefault("labels", {TEST_LABEL: TEST_RUN})
        fields.setdefault("execution_id", execution_id(actor))
        return LaunchSpec(command=command, **fields)

    return build


@pytest.fixture
def started(dockerd, docker_engine) -> Iterator[Callable[[LaunchSpec], DockerProcess]]:
    """Start a spec on the docker engine; every container a test made is gone afterwards."""
    processes: list[DockerProcess] = []

    def start(spec: LaunchSpec) -> DockerProcess:
        process = docker_engine.start(spec)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.cleanup()
    for leftover in dockerd.containers.list(
        all=True, filters={"label": f"{TEST_LABEL}={TEST_RUN}"}
    ):
        leftover.remove(force=True)
