"""Fixtures of the end-to-end executions tests: a host of executions (a real Celery worker that
runs commands on the local engine) per module, on its own cluster."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from domain.executions import conf
from domain.executions.models import OPEN_STATES, Execution, Host
from domain.executions.services import execution_create, execution_stop
from tests.support.executions import (
    OWNER,
    broker_idle,
    clusters_known,
    host_env,
    start_host_worker,
    unique_name,
    wait_ended,
)
from tests.support.processes import Proc, child_env, wait_until


@dataclass
class LocalHost:
    """One host of executions serving one cluster, and what tests do with it."""

    name: str
    cluster: str
    env: dict[str, str]
    log_dir: Path
    procs: list[Proc] = field(default_factory=list)
    # Every execution created through this host in the session, for the leftovers checks.
    created: list[str] = field(default_factory=list)

    @property
    def scratch(self) -> Path:
        return Path(self.env["EXECUTIONS_SCRATCH_DIR"])

    def start(self, concurrency: int = 2, wrapper: tuple[str, ...] = ()) -> Proc:
        proc = start_host_worker(self.env, self.log_dir, concurrency=concurrency, wrapper=wrapper)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()

    def wait_registered(self) -> Host:
        # Every test's database is emptied after it: the worker registers again within its
        # host heartbeat interval.
        return wait_until(
            lambda: Host.objects.filter(pk=self.name).first(),
            timeout=30,
            message=f"host {self.name} registered",
        )

    def create(self, command: str, *, env=(), **kwargs) -> Execution:
        kwargs.setdefault("owner_id", unique_name("owner"))
        execution = execution_create(
            owner_type=OWNER, cluster=self.cluster, command=command, env=list(env), **kwargs
        )
        self.created.append(execution.id)
        return execution

    def run(self, command: str, *, timeout: float = 30.0, **kwargs) -> Execution:
        return wait_ended(self.create(command, **kwargs).id, timeout=timeout)

    def settle(self) -> None:
        """Stop what is still open and wait for its end, so no supervisor writes after the
        test's rows are gone."""
        open_ids = list(
            Execution.objects.filter(cluster=self.cluster, state__in=OPEN_STATES).values_list(
                "id", flat=True
            )
        )
        for execution_id in open_ids:
            execution_stop(execution_id=execution_id, reason="test over")
        for execution_id in open_ids:
            wait_ended(execution_id, timeout=30)
        if not any(proc.alive() for proc in self.procs):
            return
        # The ends send dispatches: let the worker finish them before the test's rows are
        # truncated (a dispatch holding a host row while the truncation waits for it deadlocks).
        broker = redis.Redis.from_url(self.env["REDIS_URL"])
        queues = ("executions", conf.host_queue(self.name))
        wait_until(lambda: broker_idle(broker, queues), message="the host's queues drained")


@contextmanager
def local_host(
    database_url: str, log_dir: Path, *, slots: int = 4, redis_url: str | None = None, **extra: str
) -> Iterator[LocalHost]:
    """A host on a new cluster that the test process knows too; its workers are started with
    `.start()` and stopped on the way out."""
    cluster, name = unique_name("cluster"), unique_name("host")
    base = child_env(database_url)
    if redis_url:
        base["REDIS_URL"] = redis_url
        for key in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            base.pop(key, None)
    # Under /tmp itself: the command's user (nobody) must be able to reach its scratch
    # directory by its absolute path ($HOME), which pytest's private tmp dirs forbid.
    scratch = Path(tempfile.mkdtemp(prefix=f"regatta-runs-{name}-"))
    scratch.chmod(0o711)
    env = host_env(
        base, host=name, cluster=cluster, slots=slots, EXECUTIONS_SCRATCH_DIR=str(scratch), **extra
    )
    host = LocalHost(name=name, cluster=cluster, env=env, log_dir=log_dir / "executions")
    try:
        with clusters_known(cluster):
            yield host
    finally:
        host.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="package")
def shared_local_host(test_database_url, log_dir) -> Iterator[LocalHost]:
    """One host with four slots and a running worker, for every module that only runs commands
    (a worker's start is the slowest part of these tests)."""
    with local_host(test_database_url, log_dir, slots=4) as host:
        host.start()
        yield host


@pytest.fixture(scope="module")
def local_hosts(test_database_url, log_dir) -> Iterator[Callable[..., LocalHost]]:
    """make(slots=…, redis_url=…, **env) → a host of the module's own (see `local_host`)."""
    with ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(local_host(test_database_url, log_dir, **kwargs))
