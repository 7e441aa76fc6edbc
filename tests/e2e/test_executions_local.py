"""The local engine under a real worker: what a command sees, how it ends, and what is left after.

Alice's owner ("test.owner") runs commands on her module's host; every test waits for the end
through the database, as an owner's hook would hear it.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from domain.executions.models import Execution, ExecutionState, Outcome
from domain.executions.selectors import execution_log_page
from domain.executions.services import execution_stop
from tests.support.executions import (
    children_of,
    log_text,
    parent_of,
    pids_with_argument,
    process_alive,
    run_cgroup_dirs,
    wait_ended,
    wait_state,
    zombies,
)
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_host(shared_local_host):
    shared_local_host.wait_registered()
    yield shared_local_host
    shared_local_host.settle()


def _marker() -> str:
    """A `sleep` argument no other process on the machine has: `sleep 600.<digits>`."""
    return f"600.{random.randrange(10**8, 10**9)}"


def _engine_ref(execution_id: str) -> dict:
    return wait_until(
        lambda: (
            Execution.objects.get(pk=execution_id).engine_ref.get("supervisor_pid")
            and Execution.objects.get(pk=execution_id).engine_ref
        ),
        message="the supervisor's pid",
    )


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def test_it_runs_echo_and_keeps_its_traced_output(alice_host):
    done = alice_host.run("echo hi")
    assert (done.outcome, done.exit_code, done.exit_reason) == (Outcome.EXITED, 0, "")
    assert log_text(done.id) == "+ echo hi\nhi\n"
    assert done.log_lines == 2
    assert done.started_at <= done.finished_at


def test_a_failing_line_ends_the_run_with_its_exit_code(alice_host):
    done = alice_host.run("echo before; (exit 7); echo never")
    assert (done.outcome, done.exit_code) == (Outcome.EXITED, 7)
    assert log_text(done.id) == "+ echo before\nbefore\n+ exit 7\n"

    assert alice_host.run("false; echo never").exit_code == 1


def test_a_command_sees_only_its_own_environment_as_nobody_in_a_scratch_directory(alice_host):
    done = alice_host.run(
        'echo "$GREETING $COLOR $LANG"; id -un; pwd; test "$HOME" = "$PWD"; touch made-here; ls;'
        " env | cut -d= -f1 | sort | tr '\\n' ' '",
        # Definition env, then run env, by name: later names win.
        env=[("GREETING", "definition"), ("COLOR", "blue"), ("GREETING", "run"), ("LANG", "C")],
    )

    assert done.exit_code == 0
    output = [line for line in log_text(done.id).splitlines() if not line.startswith("+")]
    scratch = alice_host.scratch / done.id
    assert output[:4] == ["run blue C", "nobody", str(scratch), "made-here"]
    # None of the worker's own environment (its database URL above all) reaches the command.
    names = set(output[4].split())
    shell = {"PWD", "SHLVL", "_"}  # what bash itself exports
    assert names - shell == {
        "COLOR",
        "GREETING",
        "HOME",
        "LANG",
        "LOGNAME",
        "PATH",
        "TMPDIR",
        "USER",
    }
    assert "DATABASE_URL" in alice_host.env
    wait_until(lambda: not scratch.exists(), message="the scratch directory removed")


def test_the_deadline_stops_a_long_command(alice_host):
    marker = _marker()
    done = alice_host.run(f"sleep {marker}", deadline_seconds=1)
    assert done.outcome == Outcome.TIMED_OUT
    assert done.exit_reason == "JobRun exceeded specified timeout of 1 seconds"
    assert done.exit_code == 128 + 15
    assert pids_with_argument(marker) == []


def test_a_stop_kills_the_whole_group_even_a_child_that_ignores_sigterm(alice_host):
    stubborn, plain = _marker(), _marker()
    execution = alice_host.create(
        f"bash -c \"trap '' TERM; sleep {stubborn}\" & sleep {plain}; wait"
    )
    wait_until(
        lambda: len(pids_with_argument(stubborn)) == 1 and len(pids_with_argument(plain)) == 1,
        message="both sleeps running",
    )

    execution_stop(execution_id=execution.id, reason="Task terminated by user - alice@example.com")

    done = wait_ended(execution.id)
    assert done.outcome == Outcome.STOPPED
    assert done.exit_reason == "Task terminated by user - alice@example.com"
    # SIGTERM ended the plain sleep; the stubborn one needed the SIGKILL after the grace.
    assert pids_with_argument(plain) == []
    assert pids_with_argument(stubborn) == []


def test_a_command_that_closed_its_output_is_still_supervised(alice_host):
    marker = _marker()
    execution = alice_host.create(f"echo going quiet; exec >/dev/null 2>&1; sleep {marker}")
    wait_until(lambda: pids_with_argument(marker), message="the quiet command running")

    execution_stop(execution_id=execution.id, reason="stop the quiet one")

    done = wait_ended(execution.id)
    assert (done.outcome, done.exit_reason) == (Outcome.STOPPED, "stop the quiet one")
    assert log_text(done.id).startswith("+ echo going quiet\ngoing quiet\n")
    assert pids_with_argument(marker) == []


def test_a_command_over_its_memory_limit_ends_oom(alice_host):
    done = alice_host.run(
        "python3 -c \"x = b'a' * (300 * 1024 * 1024); print('survived')\"",
        resources={"mem_mb": 64},
    )
    assert done.outcome == Outcome.OOM
    assert done.exit_code == 137
    assert "exceeded its memory limit" in done.exit_reason
    assert "survived" not in log_text(done.id).splitlines()
    assert "memory" not in done.engine_ref.get("limits_missing", [])


def test_new_lines_are_visible_while_the_command_runs(alice_host):
    execution = alice_host.create(f"echo first line; sleep {_marker()}")

    wait_until(
        lambda: "first line\n" in log_text(execution.id), message="the first line to show up"
    )

    assert Execution.objects.get(pk=execution.id).state == ExecutionState.RUNNING
    execution_stop(execution_id=execution.id, reason="seen enough")
    assert wait_ended(execution.id).outcome == Outcome.STOPPED


def test_a_hundred_thousand_lines_page_back_exactly_with_a_flat_supervisor(alice_host):
    execution = alice_host.create("sleep 0.5; seq 1 100000; sleep 0.5")
    wait_state(execution.id, ExecutionState.RUNNING)
    pid = _engine_ref(execution.id)["supervisor_pid"]
    samples = []
    while process_alive(pid):
        rss = _rss_kb(pid)
        if rss is not None:
            samples.append(rss)
        time.sleep(0.02)
    done = wait_ended(execution.id, timeout=60)

    text, after = "", 0
    while True:
        page, after = execution_log_page(execution_id=done.id, after_line=after)
        if not page:
            break
        assert page.count("\n") <= 256
        text += page
    numbers = "".join(f"{i}\n" for i in range(1, 100001))
    assert text == f"+ sleep 0.5\n+ seq 1 100000\n{numbers}+ sleep 0.5\n"
    assert done.log_lines == 100003
    assert len(samples) > 10
    # The output never gathers in the supervisor: its memory stays within a few MB.
    assert max(samples) - samples[0] < 8 * 1024, samples


def test_nothing_is_left_behind(alice_host):
    # After runs that exited, were stopped, timed out and were OOM-killed (the tests above when
    # they ran, and these two), no supervisor, cgroup or zombie of this host remains.
    ran = [alice_host.run("echo bye"), alice_host.run("sleep 0.1 & exit 3")]
    supervisors = [
        e.engine_ref["supervisor_pid"] for e in Execution.objects.filter(pk__in=[r.id for r in ran])
    ]
    wait_until(lambda: not any(process_alive(pid) for pid in supervisors), message="exits")
    created = alice_host.created
    wait_until(lambda: run_cgroup_dirs(created) == [], message="no cgroup of ours left")
    worker = alice_host.procs[0].popen.pid
    ours = {worker, *supervisors}
    wait_until(lambda: not [z for z in zombies() if z[1] in ours], message="no zombie of ours left")
    assert list(alice_host.scratch.iterdir()) == []


def test_a_worker_that_is_its_containers_init_reaps_the_supervisors_it_adopts(local_hosts):
    # Carol runs her worker as PID 1 of its own PID namespace, as `docker run` without an init
    # would: every detached supervisor is reparented to it when it ends.
    carol = local_hosts(slots=2)
    unshare = carol.start(wrapper=("unshare", "--pid", "--fork", "--mount-proc"))
    carol.wait_registered()
    (worker,) = children_of(unshare.popen.pid)
    marker = _marker()
    execution = carol.create(f"sleep {marker}")
    (command,) = wait_until(lambda: pids_with_argument(marker), message="the command running")
    assert parent_of(parent_of(command)) == worker  # command → supervisor → the worker

    execution_stop(execution_id=execution.id, reason="enough")
    assert wait_ended(execution.id).outcome == Outcome.STOPPED
    assert carol.run("echo hi").exit_code == 0

    wait_until(
        lambda: not [z for z in zombies() if z[1] == worker], message="no zombie left on PID 1"
    )
    carol.settle()
