"""Helpers for tests of the docker engine (fixtures: tests/orchestrator/engines/conftest.py)."""

from __future__ import annotations

import uuid

import docker

from orchestrator.engines.base import Exit
from orchestrator.engines.docker import DockerProcess

# Built by deploy/ensure-engines.sh (`make engines`, which `make test` runs) from busybox-static.
TEST_IMAGE = "regatta/busybox:test"
# Every container this test run starts carries it, so teardown finds what a failed test left
# behind, and only that: other runs (other worktrees) share the same dockerd.
TEST_LABEL = "regatta.test"
TEST_RUN = uuid.uuid4().hex
# The test image is busybox: it has sh, not bash.
BUSYBOX = {"shell": "sh"}


def execution_id(actor: str) -> str:
    return f"{actor}-{uuid.uuid4().hex[:12]}"


def run_to_end(process: DockerProcess) -> tuple[list[bytes], Exit]:
    lines = list(process.lines())
    return lines, process.wait()


def containers_of(client: docker.DockerClient, execution: str) -> list:
    return client.containers.list(all=True, filters={"label": f"regatta.execution={execution}"})
