"""Fixtures of the end-to-end job tests: a host of executions (a real Celery worker running
commands on the local engine) on a cluster of this package's own, which also runs `jobs.schedule`
for that cluster, and a real S3-compatible server (moto) in its own process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support.jobs_hosts import JobsHost, jobs_host_running
from tests.support.processes import BIN, free_port, wait_until


@pytest.fixture(scope="module")
def jobs_host(subprocess_env, log_dir) -> Iterator[JobsHost]:
    # Module-scoped: a jobs host's worker schedules every queued job of the database onto its own
    # cluster, so it must be gone before another module starts schedulers of its own.
    with jobs_host_running(subprocess_env, log_dir, {"engine": "local"}) as host:
        yield host


@dataclass(frozen=True)
class S3Server:
    url: str
    proc: subprocess.Popen


@pytest.fixture(scope="package")
def s3_server(log_dir) -> Iterator[S3Server]:
    """moto's S3-compatible server on a free port, in its own process. A server that does not
    start fails the test with its output (never a skip)."""
    port = free_port()
    log_path = log_dir / "moto.log"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"moto_server exited: {log_path.read_text()[-2000:]}")
        try:
            return requests.get(url, timeout=0.5).status_code < 500
        except requests.RequestException:
            return False

    try:
        wait_until(answering, timeout=30, interval=0.2, message="moto_server to answer")
        yield S3Server(url=url, proc=proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
