"""A host of Scale jobs for the end-to-end tests: a real Celery worker that hosts executions of
a cluster of its own (local or docker engine) and runs `jobs.schedule` for that cluster."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from domain.executions import conf
from domain.executions.models import OPEN_STATES, Execution, Host
from domain.executions.services import execution_stop
from tests.support.processes import Proc, start_worker, wait_until

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


@contextmanager
def jobs_host_running(
    subprocess_env: dict[str, str], log_dir: Path, engine: dict, **extra: str
) -> Iterator[JobsHost]:
    """A worker that hosts executions of a new cluster of `engine` (its options too) and
    schedules jobs onto it, with `extra` in its environment."""
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
        "EXECUTIONS_CLUSTERS": json.dumps({cluster: engine}),
        "EXECUTIONS_HOST": name,
        "EXECUTIONS_HOST_CLUSTERS": cluster,
        "EXECUTIONS_SLOTS": "4",
        "EXECUTIONS_SCRATCH_DIR": str(scratch),
        "SCALE_JOBS_CLUSTER": cluster,
        **extra,
    }
    original = conf.clusters
    known = {**original(), cluster: engine}
    conf.clusters = lambda: known
    proc = start_worker(
        env, log_dir / "jobs", queues="jobs,default,executions", concurrency=2, name=name
    )
    try:
        yield JobsHost(name=name, cluster=cluster, env=env, proc=proc)
    finally:
        proc.stop()
        conf.clusters = original
        if previous_key is None:
            os.environ.pop("SCALE_SECRETS_KEY", None)
        shutil.rmtree(scratch, ignore_errors=True)
