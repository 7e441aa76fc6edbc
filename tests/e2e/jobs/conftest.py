"""Fixtures of the end-to-end job tests: a host of executions (a real Celery worker running
commands on the local engine) on a cluster of this package's own, which also runs `jobs.schedule`
for that cluster, and a real S3-compatible server (moto) in its own process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from domain.executions import conf
from domain.executions.models import OPEN_STATES, Execution, Host
from domain.executions.services import execution_stop
from tests.support.processes import (
    BIN,
    Proc,
    free_port,
    start_worker,
    wait_until,
)

FAST = {
    "EXECUTIONS_HEARTBEAT_INTERVAL": "0.2",
    "EXECUTIONS_HEARTBEAT_TIMEOUT": "3",
    "EXECUTIONS_STOP_GRACE": "0.5",
    "EXECUTIONS_LOG_FLUSH_INTERVAL": "0.1",
    "EXECUTIONS_HOST_HEARTBEAT_INTERVAL": "0.3",
    "EXECUTIONS_HOST_TIMEOUT": "10",
}


@dataclass
class JobsHost:
    name: str
    cluster: str
    env: dict[str, str]
    proc: Proc

    def wait_registered(self) -> Host:
        # The database is emptied after each test: the worker registers again on its next beat.
        return wait_until(
            lambda: Host.objects.filter(pk=self.name).first(),
            timeout=30,
            message=f"host {self.name} registered",
        )

    def settle(self) -> None:
        """Stop what is still open and wait for its end, so nothing writes after the test."""
        open_ids = list(
            Execution.objects.filter(cluster=self.cluster, state__in=OPEN_STATES).values_list(
                "id", flat=True
            )
        )
        for execution_id in open_ids:
            execution_stop(execution_id=execution_id, reason="test over")
        wait_until(
            lambda: (
                not Execution.objects.filter(cluster=self.cluster, state__in=OPEN_STATES).exists()
            ),
            timeout=30,
            message="every execution ended",
        )


@pytest.fixture(scope="package")
def jobs_host(subprocess_env, log_dir) -> Iterator[JobsHost]:
    cluster, name = f"jobs-{uuid.uuid4().hex[:8]}", f"jobhost-{uuid.uuid4().hex[:8]}"
    # Under /tmp itself: the command's user (nobody) must reach its scratch directory.
    scratch = Path(tempfile.mkdtemp(prefix="regatta-jobs-"))
    scratch.chmod(0o711)
    # The worker decrypts what this process encrypted: one key for both.
    key = os.environ.get("SCALE_SECRETS_KEY") or Fernet.generate_key().decode()
    previous_key = os.environ.get("SCALE_SECRETS_KEY")
    os.environ["SCALE_SECRETS_KEY"] = key
    env = {
        **subprocess_env,
        **FAST,
        "SCALE_SECRETS_KEY": key,
        "EXECUTIONS_CLUSTERS": json.dumps({cluster: {"engine": "local"}}),
        "EXECUTIONS_HOST": name,
        "EXECUTIONS_HOST_CLUSTERS": cluster,
        "EXECUTIONS_SLOTS": "4",
        "EXECUTIONS_SCRATCH_DIR": str(scratch),
        "SCALE_JOBS_CLUSTER": cluster,
    }
    original = conf.clusters
    known = {**original(), cluster: {"engine": "local"}}
    conf.clusters = lambda: known
    proc = start_worker(
        env, log_dir / "jobs", queues="default,executions", concurrency=2, name=name
    )
    try:
        yield JobsHost(name=name, cluster=cluster, env=env, proc=proc)
    finally:
        proc.stop()
        conf.clusters = original
        if previous_key is None:
            os.environ.pop("SCALE_SECRETS_KEY", None)
        shutil.rmtree(scratch, ignore_errors=True)


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
