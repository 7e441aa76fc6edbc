"""Executions in tests: hosts whose real Celery workers run commands on the local engine, a test
owner that records what its hook hears, and the waits and reads every executions test needs.

Every module gets its own cluster and host names, so neither its dispatches nor a beat's sweeps
reach another module's executions (the database is shared by the session, the broker too).
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from domain.executions import conf
from domain.executions.models import Execution, ExecutionEvent, ExecutionState
from domain.executions.owners import owner_hook
from domain.executions.selectors import execution_log_iter
from tests.support.processes import Proc, start_worker, wait_until

OWNER = "test.owner"
# What the test owner's hook heard in this process: (execution id, source, target).
HEARD: list[tuple[str, str, str]] = []

# Every knob short, so a test sees heartbeats, stops and sweeps within a fraction of a second.
FAST = {
    "EXECUTIONS_HEARTBEAT_INTERVAL": "0.2",
    "EXECUTIONS_HEARTBEAT_TIMEOUT": "2",
    "EXECUTIONS_STOP_GRACE": "0.5",
    "EXECUTIONS_SWEEP_INTERVAL": "0.5",
    "EXECUTIONS_LOG_FLUSH_INTERVAL": "0.1",
    "EXECUTIONS_HOST_HEARTBEAT_INTERVAL": "0.5",
    "EXECUTIONS_HOST_TIMEOUT": "10",
    "EXECUTIONS_LAUNCH_TIMEOUT": "1",
}


@owner_hook(OWNER)
def _record(execution: Execution, source: str, target: str) -> None:
    HEARD.append((execution.id, source, target))


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def dispatch_messages_dropped() -> Iterator[None]:
    """While inside, a committed execution sends no `executions.dispatch` message: the test
    dispatches itself, and a worker of the session (which consumes the executions queue) would
    otherwise dispatch first, out of the test's sight."""
    from domain.common import steps
    from domain.executions.steps import DispatchCluster

    original = steps._handlers[DispatchCluster]
    steps._handlers[DispatchCluster] = lambda step: None
    try:
        yield
    finally:
        steps._handlers[DispatchCluster] = original


@contextmanager
def clusters_known(*names: str, engine: str = "local") -> Iterator[None]:
    """The test process knows `names` as clusters of `engine` (beside whatever it knew) while
    inside, as the web process of a deployment would. Its environment is left alone, so no
    worker started meanwhile (the session's) takes these clusters for its own."""
    original = conf.clusters
    known = {**original(), **{name: {"engine": engine} for name in names}}
    conf.clusters = lambda: known
    try:
        yield
    finally:
        conf.clusters = original


def host_env(base: dict[str, str], *, host: str, cluster: str, slots: int, **extra: str) -> dict:
    """A host worker's environment: it serves `cluster` only, as `host`, with `slots` slots."""
    return {
        **base,
        **FAST,
        "EXECUTIONS_CLUSTERS": json.dumps({cluster: {"engine": "local"}}),
        "EXECUTIONS_HOST": host,
        "EXECUTIONS_HOST_CLUSTERS": cluster,
        "EXECUTIONS_SLOTS": str(slots),
        **extra,
    }


def start_host_worker(
    env: dict[str, str], log_dir: Path, *, concurrency: int = 2, wrapper: tuple[str, ...] = ()
) -> Proc:
    """A worker consuming `executions` (and so its host's own queue), registered as a host."""
    proc = start_worker(
        env,
        log_dir,
        queues="executions",
        concurrency=concurrency,
        name=env["EXECUTIONS_HOST"],
        wrapper=wrapper,
    )
    proc.info["host"] = env["EXECUTIONS_HOST"]
    return proc


def kill_process_group(proc: Proc) -> None:
    """SIGKILL the worker's whole process group (main process and pool children) at once."""
    os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait()


def broker_idle(broker: redis.Redis, queues: tuple[str, ...]) -> bool:
    """No message waits on `queues` and none is being worked on (kombu keeps a queue's messages
    in a list named after it, one more per priority step, and the ones a worker holds in the
    `unacked` hash until they are done)."""
    lists = [key for q in queues for key in (q, *broker.scan_iter(match=q + "\x06\x16*"))]
    return not sum(broker.llen(key) for key in lists) and not broker.hlen("unacked")


def wait_ended(execution_id: str, timeout: float = 60.0) -> Execution:
    def ended() -> Execution | None:
        row = Execution.objects.get(pk=execution_id)
        return row if row.state == ExecutionState.ENDED else None

    try:
        return wait_until(ended, timeout=timeout, interval=0.05, message=f"{execution_id} ENDED")
    except AssertionError:
        row = Execution.objects.get(pk=execution_id)
        raise AssertionError(
            f"execution {execution_id} stuck in {row.state}: {row.exit_reason!r} "
            f"{list(execution_events_text(execution_id))}"
        ) from None


def wait_state(execution_id: str, state: str, timeout: float = 60.0) -> Execution:
    return wait_until(
        lambda: Execution.objects.filter(pk=execution_id, state=state).first(),
        timeout=timeout,
        interval=0.05,
        message=f"{execution_id} {state}",
    )


def log_text(execution_id: str) -> str:
    return "".join(execution_log_iter(execution_id=execution_id))


def running_transitions(execution_id: str) -> int:
    return ExecutionEvent.objects.filter(
        execution_id=execution_id, kind="transition", target=ExecutionState.RUNNING
    ).count()


def execution_events_text(execution_id: str) -> Iterator[str]:
    for event in ExecutionEvent.objects.filter(execution_id=execution_id).order_by("id"):
        yield f"{event.kind}:{event.source}->{event.target}:{event.reason}:{event.message[:80]}"


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def pids_with_argument(marker: str) -> list[int]:
    """Processes (zombies excluded) that have `marker` as one of their arguments, exactly (a
    shell whose script merely mentions it does not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in argv[1:] and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_of(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def zombies() -> list[tuple[int, int, str]]:
    """(pid, parent pid, name) of every zombie process on the machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            found.append((int(entry.name), int(fields[1]), name))
    return found


def run_cgroup_dirs(execution_ids: list[str]) -> list[Path]:
    """The per-execution cgroup directories (`regatta-<id>`) of these executions left under
    any v1 controller (other services on the machine may have their own)."""
    wanted = {f"regatta-{execution_id}" for execution_id in execution_ids}
    return [
        path
        for path in Path("/sys/fs/cgroup").glob("*/**/regatta-*")
        if path.name in wanted and path.is_dir()
    ]


def create_many(*, cluster: str, commands: list[str], deadline_seconds: int = 600) -> list[str]:
    """Create one execution per command (from `tests.support.call` in a child process whose
    broker differs from the test process's). Returns their ids, in order."""
    from domain.executions.services import execution_create

    return [
        execution_create(
            owner_type=OWNER,
            owner_id=f"child-{i}",
            cluster=cluster,
            command=command,
            env=[],
            deadline_seconds=deadline_seconds,
        ).id
        for i, command in enumerate(commands)
    ]


def create_and_dispatch(*, cluster: str, commands: list[str]) -> list[str]:
    """`create_many`, then hand them to the cluster's hosts at once (in the child process, so
    the launch messages go to the child's broker)."""
    from domain.executions.dispatch import execution_dispatch

    ids = create_many(cluster=cluster, commands=commands)
    execution_dispatch(cluster=cluster)
    return ids
