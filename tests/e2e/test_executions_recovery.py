"""Never run twice, never stuck: a worker SIGKILLed under running commands, a broker that loses
every message, a supervisor killed outright or told to stop.

These tests kill workers and flush their broker, so their host works on the isolated Redis db
(`RELEASES_ISOLATED_REDIS_URL`), never on the session's; executions are created from child
processes bound to that broker, as a web process of that deployment would create them.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from domain.executions import conf
from domain.executions.models import Execution, ExecutionState, Host, Outcome
from tests.e2e.releases.conftest import isolated_redis_url
from tests.support.executions import (
    kill_process_group,
    log_text,
    pids_with_argument,
    process_alive,
    running_transitions,
    wait_ended,
    wait_state,
)
from tests.support.processes import run_concurrently, start_beat, stop_beat, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.long(1.5)]


@pytest.fixture(scope="module")
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(isolated_redis_url())
    client.flushdb()
    yield client
    # Messages a killed worker left unacknowledged must not reach a later test's workers.
    client.flushdb()


@pytest.fixture(scope="module")
def host(broker, local_hosts):
    return local_hosts(slots=20, redis_url=isolated_redis_url())


@pytest.fixture
def bob_host(host):
    """Bob's host with a live worker (started again if a test killed it)."""
    if not any(proc.alive() for proc in host.procs):
        host.start()
    host.wait_registered()
    yield host
    host.settle()


@pytest.fixture(scope="module")
def sweeps(host, broker, log_dir, tmp_path_factory) -> Iterator:
    """A beat on the host's broker running the lost-host sweep and the reconciler, fast. A host
    stays alive for it two minutes without a heartbeat: the flush test keeps its host's worker
    down a while on purpose."""
    env = {
        **host.env,
        "REGATTA_BEAT_ONLY": "executions.sweep_lost,executions.reconcile",
        "EXECUTIONS_SWEEP_INTERVAL": "0.5",
        "EXECUTIONS_LAUNCH_TIMEOUT": "1",
        "EXECUTIONS_HOST_TIMEOUT": "120",
    }
    proc = start_beat(env, log_dir, tmp_path_factory.mktemp("beat"), name="executions-beat")
    yield proc
    stop_beat(proc, broker)


@pytest.fixture
def journal() -> Iterator[Path]:
    # Commands run as nobody: a file they may all append to.
    folder = Path(tempfile.mkdtemp(prefix="regatta-journal-"))
    folder.chmod(0o777)
    yield folder / "journal"
    shutil.rmtree(folder, ignore_errors=True)


def _create(host, commands: list[str], *, dispatch: bool = False) -> list[str]:
    target = "create_and_dispatch" if dispatch else "create_many"
    # However long the child takes to start, the host it dispatches to still counts as alive.
    env = {**host.env, "EXECUTIONS_HOST_TIMEOUT": "300"}
    (ids,) = run_concurrently(
        f"tests.support.executions:{target}",
        [{"cluster": host.cluster, "commands": commands}],
        env,
    )
    return ids


def _supervisor(execution_id: str) -> int:
    return wait_until(
        lambda: Execution.objects.get(pk=execution_id).engine_ref.get("supervisor_pid"),
        message="the supervisor's pid",
    )


def test_a_supervisor_killed_outright_ends_its_execution_lost(bob_host, sweeps):
    marker = "600.271828"
    # In a pipeline, so bash forks the sleep instead of becoming it: the supervisor's death
    # takes bash along, and the host's reaping the rest of the run's cgroup.
    (execution_id,) = _create(bob_host, [f"sleep {marker} | cat"])
    wait_state(execution_id, ExecutionState.RUNNING)
    wait_until(lambda: pids_with_argument(marker), message="the command running")

    os.kill(_supervisor(execution_id), signal.SIGKILL)

    done = wait_ended(execution_id, timeout=30)
    assert done.outcome == Outcome.LOST
    assert done.exit_reason == "worker lost: no heartbeat for 2 seconds"
    # The command died with its supervisor: the owner may retry it without it running twice.
    wait_until(lambda: not pids_with_argument(marker), message="the command gone")


def test_a_supervisor_told_to_stop_stops_its_command_and_ends_lost(bob_host):
    marker = "600.314159"
    (execution_id,) = _create(bob_host, [f"sleep {marker}"])
    wait_state(execution_id, ExecutionState.RUNNING)
    supervisor = _supervisor(execution_id)

    os.kill(supervisor, signal.SIGTERM)

    done = wait_ended(execution_id, timeout=30)
    assert done.outcome == Outcome.LOST
    assert done.exit_reason == "worker lost: its host is shutting down"
    assert not pids_with_argument(marker)
    wait_until(lambda: not process_alive(supervisor), message="the supervisor gone")


def test_a_sigkilled_worker_leaves_every_run_to_end_once_with_its_output(bob_host, journal):
    # Each run records its start, then waits for the gate: all ten are surely mid-run when the
    # worker dies, however slow the machine.
    gate = journal.parent / "gate"
    ids = _create(
        bob_host,
        [
            f"echo start-{i} >> {journal}; until [ -e {gate} ]; do sleep 0.1; done; echo done-{i}"
            for i in range(10)
        ],
    )
    wait_until(
        lambda: len(journal.read_text().splitlines()) == 10 if journal.exists() else False,
        timeout=60,
        message="all ten runs started",
    )

    kill_process_group(bob_host.procs[-1])
    gate.touch()

    done = [wait_ended(execution_id, timeout=60) for execution_id in ids]
    assert [(d.outcome, d.exit_code) for d in done] == [(Outcome.EXITED, 0)] * 10
    for i, execution_id in enumerate(ids):
        assert log_text(execution_id).endswith(f"+ echo done-{i}\ndone-{i}\n")
        assert running_transitions(execution_id) == 1
    assert sorted(journal.read_text().splitlines()) == sorted(f"start-{i}" for i in range(10))


def test_a_flushed_broker_strands_nothing(host, broker, sweeps, journal):
    # No worker is up: ten executions hold the host's slots with their launch messages on its
    # queue, ten more wait with their dispatch messages on the shared queue. Then Redis loses
    # every message.
    for proc in host.procs:
        proc.stop()
    # The host as its worker registered it (its last heartbeat may have done so again).
    Host.objects.update_or_create(
        name=host.name,
        defaults={
            "queue": conf.host_queue(host.name),
            "clusters": [host.cluster],
            "slots": 10,
            "heartbeat_at": timezone.now(),
        },
    )
    ids = _create(
        host, [f"echo run-{i} >> {journal}; echo run-{i}" for i in range(20)], dispatch=True
    )
    states = list(Execution.objects.filter(pk__in=ids).values_list("state", flat=True))
    assert sorted(states) == ["PENDING"] * 10 + ["QUEUED"] * 10
    # (The reconciler may have sent some of those launches again meanwhile.)
    assert broker.llen(conf.host_queue(host.name)) >= 10
    broker.flushdb()

    host.start()

    done = [wait_ended(execution_id, timeout=60) for execution_id in ids]
    assert [(d.outcome, d.exit_code) for d in done] == [(Outcome.EXITED, 0)] * 20
    for i, execution_id in enumerate(ids):
        assert log_text(execution_id).splitlines()[-1] == f"run-{i}"
        assert running_transitions(execution_id) == 1
    assert sorted(journal.read_text().splitlines()) == sorted(f"run-{i}" for i in range(20))
    host.settle()
