"""The docker engine against the real dockerd and the local busybox image (no registry).

Actors: Alice runs commands, Bob's launch is delivered twice, Mallory sends garbage, Carol's
owner reads stderr apart from stdout (as Scale's jobs do).
"""

from __future__ import annotations

import math

import docker
import pytest

from domain.executions import conf
from orchestrator.engines.base import EngineUnavailable, LaunchRefused
from orchestrator.engines.docker import DockerEngine, container_name
from orchestrator.engines.lines import TRUNCATED
from tests.support.containers import (
    BUSYBOX,
    TEST_IMAGE,
    TEST_LABEL,
    TEST_RUN,
    containers_of,
    run_to_end,
)

MIB = 1024 * 1024
NOWHERE = "unix:///nonexistent/regatta-docker.sock"


def test_it_streams_the_trace_then_the_output_and_exits_0(spec_for, started):
    lines, exit_ = run_to_end(started(spec_for("alice", "echo hi")))

    assert lines == [b"+ echo hi\n", b"hi\n"]
    assert exit_.exit_code == 0
    assert exit_.oom is False
    assert exit_.signal is None


def test_it_ends_with_the_exit_code_of_the_failing_line(spec_for, started):
    command = "echo start\n(exit 7)\necho never"

    lines, exit_ = run_to_end(started(spec_for("alice", command)))

    assert exit_.exit_code == 7
    assert b"start\n" in lines
    assert b"never\n" not in lines


def test_it_passes_the_environment_in_order_with_later_names_winning(spec_for, started):
    env = [
        ("GREETING", "hello"),
        ("WHO", "Alice"),
        ("QUOTED", 'it\'s "$HOME" `id` ;'),
        ("GREETING", "bonjour"),
    ]
    command = 'echo "$GREETING $WHO"\nprintf "%s\\n" "$QUOTED"'

    lines, exit_ = run_to_end(started(spec_for("alice", command, env=env)))

    assert exit_.exit_code == 0
    assert b"bonjour Alice\n" in lines
    assert b"hello Alice\n" not in lines
    # A value is passed as it is, never expanded by a shell on the way in.
    assert b'it\'s "$HOME" `id` ;\n' in lines


def test_it_reports_an_oom_kill_past_the_memory_limit(spec_for, started):
    spec = spec_for("alice", "head -c 200m /dev/zero | tail", mem_mb=16)

    _, exit_ = run_to_end(started(spec))

    assert exit_.oom is True
    assert exit_.exit_code == 137
    assert exit_.signal == 9
    assert "OOMKilled" in exit_.reason


def test_it_kills_a_command_that_ignores_sigterm_once_the_grace_is_over(spec_for, started, dockerd):
    process = started(spec_for("alice", "trap '' TERM\nsleep 600"))
    lines = process.lines()
    assert next(line for line in lines if line.startswith(b"+ sleep")) == b"+ sleep 600\n"

    process.terminate(grace=3)

    # terminate() returned while the command still runs: the grace is waited out elsewhere.
    assert dockerd.containers.get(process.ref["container_id"]).status == "running"
    assert list(lines) == []
    exit_ = process.wait()
    assert exit_.exit_code == 137
    assert exit_.signal == 9
    assert exit_.oom is False
    assert dockerd.containers.get(process.ref["container_id"]).status == "exited"


def test_it_ends_a_command_with_sigterm_when_it_does_not_ignore_it(spec_for, started):
    process = started(spec_for("alice", "sleep 600"))
    lines = process.lines()
    next(lines)  # "+ sleep 600": the command runs

    process.terminate(grace=60)

    # docker-init as PID 1 hands the SIGTERM on to the shell, which dies of it (143), rather
    # than a shell as PID 1 ignoring it until the SIGKILL (137).
    assert list(lines) == []
    exit_ = process.wait()
    assert exit_.exit_code == 143
    assert exit_.signal == 15


def test_it_kills_at_once_when_the_grace_is_zero(spec_for, started):
    process = started(spec_for("alice", "trap '' TERM\nsleep 600"))
    lines = process.lines()
    next(line for line in lines if line.startswith(b"+ sleep"))

    process.terminate(grace=0)

    assert list(lines) == []
    assert process.wait().exit_code == 137


def test_it_removes_the_container_on_cleanup(spec_for, started, dockerd):
    spec = spec_for("alice", "echo done")
    process = started(spec)
    run_to_end(process)
    assert len(containers_of(dockerd, spec.execution_id)) == 1

    process.cleanup()

    assert containers_of(dockerd, spec.execution_id) == []
    with pytest.raises(docker.errors.NotFound):
        dockerd.containers.get(container_name(spec.execution_id))
    # A second cleanup (the supervisor's finally after a failure) is harmless.
    process.cleanup()


def test_it_attaches_to_the_container_of_a_redelivered_start(spec_for, started, dockerd):
    spec = spec_for("bob", "echo ran")
    first = started(spec)
    first_lines, _ = run_to_end(first)

    second = started(spec)

    assert second.ref["container_id"] == first.ref["container_id"]
    lines, exit_ = run_to_end(second)
    assert lines == first_lines == [b"+ echo ran\n", b"ran\n"]
    assert exit_.exit_code == 0
    assert len(containers_of(dockerd, spec.execution_id)) == 1


def test_it_starts_a_container_a_dead_delivery_created_but_never_started(
    spec_for, started, dockerd
):
    spec = spec_for("bob", "echo ran")
    created = dockerd.containers.create(
        TEST_IMAGE,
        ["sh", "-c", "echo ran by the first delivery"],
        name=container_name(spec.execution_id),
        labels={**spec.labels, "regatta.execution": spec.execution_id},
    )

    process = started(spec)

    assert process.ref["container_id"] == created.id
    lines, exit_ = run_to_end(process)
    assert lines == [b"ran by the first delivery\n"]
    assert exit_.exit_code == 0
    assert len(containers_of(dockerd, spec.execution_id)) == 1


def test_it_refuses_an_image_this_host_does_not_have(spec_for, docker_engine, dockerd):
    spec = spec_for("alice", "echo hi", image="regatta/never-built:1")

    with pytest.raises(LaunchRefused, match="no such image on this docker host"):
        docker_engine.start(spec)

    assert containers_of(dockerd, spec.execution_id) == []


def test_it_streams_10000_lines_exactly(spec_for, started):
    lines, exit_ = run_to_end(started(spec_for("alice", "seq 1 10000")))

    assert exit_.exit_code == 0
    assert lines[0] == b"+ seq 1 10000\n"
    assert lines[1:] == [f"{n}\n".encode() for n in range(1, 10001)]


def test_it_cuts_an_absurdly_long_line_and_keeps_the_next(spec_for, started):
    size = conf.LOG_MAX_LINE_BYTES * 3
    command = f"head -c {size} /dev/zero | tr '\\0' a\necho\necho after"

    lines, _ = run_to_end(started(spec_for("alice", command)))

    long_line = next(line for line in lines if line.startswith(b"aaa"))
    assert long_line == b"a" * conf.LOG_MAX_LINE_BYTES + TRUNCATED
    assert lines[-1] == b"after\n"


def test_it_outlasts_the_api_timeout_while_the_command_is_quiet(spec_for, started):
    options = {**BUSYBOX, "api_timeout": 1}
    process = started(spec_for("alice", "sleep 3\necho late", options=options))

    # wait() first: it blocks past the 1 s API timeout, then the stream still has every line.
    exit_ = process.wait()
    lines = list(process.lines())

    assert exit_.exit_code == 0
    assert lines == [b"+ sleep 3\n", b"+ echo late\n", b"late\n"]


def test_it_follows_a_command_quiet_for_longer_than_the_api_timeout(spec_for, started):
    options = {**BUSYBOX, "api_timeout": 1}
    process = started(spec_for("alice", "sleep 3\necho late", options=options))

    # Read while the command runs: the followed log says nothing for 3 s.
    lines = list(process.lines())

    assert lines == [b"+ sleep 3\n", b"+ echo late\n", b"late\n"]
    assert process.wait().exit_code == 0


def test_it_marks_every_line_stdout_in_order_when_stderr_is_joined(spec_for, started):
    process = started(spec_for("alice", "echo out-1\necho err-1 >&2\necho out-2"))

    tagged = list(process.tagged_lines())

    assert tagged == [
        (b"+ echo out-1\n", False),
        (b"out-1\n", False),
        (b"+ echo err-1\n", False),
        (b"err-1\n", False),
        (b"+ echo out-2\n", False),
        (b"out-2\n", False),
    ]


def _streams(tagged: list[tuple[bytes, bool]]) -> tuple[list[bytes], list[bytes]]:
    return [line for line, err in tagged if not err], [line for line, err in tagged if err]


def test_it_keeps_stderr_apart_when_the_owner_reads_it_apart(spec_for, started, dockerd):
    spec = spec_for("carol", "echo out-1\necho err-1 >&2\necho out-2", separate_stderr=True)
    process = started(spec)

    stdout, stderr = _streams(list(process.tagged_lines()))

    assert stdout == [b"out-1\n", b"out-2\n"]
    # The traces of -x are stderr's, as the local engine has them.
    assert stderr == [b"+ echo out-1\n", b"+ echo err-1\n", b"err-1\n", b"+ echo out-2\n"]
    assert process.wait().exit_code == 0
    # Still -e: a failing line ends the command with its status.
    failing = started(
        spec_for("carol", "echo oops >&2\n(exit 3)\necho never", separate_stderr=True)
    )
    assert _streams(list(failing.tagged_lines()))[0] == []
    assert failing.wait().exit_code == 3


def test_it_rejoins_a_long_stderr_line_that_stdout_lines_interrupt(spec_for, started):
    # Past docker's 16 KB frames, and written in two parts with a stdout line between them, so
    # that line's frame comes amid the frames of the stderr line. No traces: they would be
    # stderr lines inside it.
    part = 20_000
    command = (
        "set +x\necho out-1\n"
        f"head -c {part} /dev/zero | tr '\\0' e >&2\n"
        "echo out-2\n"
        f"head -c {part} /dev/zero | tr '\\0' f >&2\n"
        "echo >&2\necho out-3"
    )
    process = started(spec_for("carol", command, separate_stderr=True))

    stdout, stderr = _streams(list(process.tagged_lines()))

    assert stdout == [b"out-1\n", b"out-2\n", b"out-3\n"]
    assert stderr == [b"+ set +x\n", b"e" * part + b"f" * part + b"\n"]


def test_it_streams_10000_lines_of_each_stream_exactly(spec_for, started):
    numbers = [f"{n}\n".encode() for n in range(1, 10001)]
    spec = spec_for("carol", "seq 1 10000\nseq 1 10000 >&2", separate_stderr=True)

    stdout, stderr = _streams(list(started(spec).tagged_lines()))

    assert stdout == numbers
    assert stderr == [b"+ seq 1 10000\n", b"+ seq 1 10000\n", *numbers]


def test_it_runs_as_nobody_without_network_or_capabilities_by_default(spec_for, started):
    command = "id -u\nid -g\ncat /proc/net/dev\ngrep CapEff /proc/self/status"

    lines, exit_ = run_to_end(started(spec_for("alice", command)))

    assert exit_.exit_code == 0
    assert b"65534\n" in lines
    assert any(line.strip().startswith(b"lo:") for line in lines)
    assert not any(line.strip().startswith(b"eth") for line in lines)
    assert b"CapEff:\t0000000000000000\n" in lines


def test_it_applies_the_requested_limits_and_labels(spec_for, started, dockerd):
    spec = spec_for(
        "alice", "echo hi", mem_mb=64, cpus=0.5, labels={TEST_LABEL: TEST_RUN, "owner": "alice"}
    )

    process = started(spec)

    attrs = dockerd.containers.get(process.ref["container_id"]).attrs
    host = attrs["HostConfig"]
    assert attrs["Name"] == f"/regatta-{spec.execution_id}"
    assert host["Memory"] == host["MemorySwap"] == 64 * MIB
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 4096
    assert host["NetworkMode"] == "none"
    assert host["Init"] is True
    assert attrs["Config"]["User"] == "65534:65534"
    assert attrs["Config"]["Labels"]["regatta.execution"] == spec.execution_id
    assert attrs["Config"]["Labels"]["owner"] == "alice"


def test_it_takes_the_user_network_and_pids_limit_from_the_cluster_options(
    spec_for, started, dockerd
):
    options = {**BUSYBOX, "user": "0:0", "network_mode": "bridge", "pids_limit": 64}

    process = started(spec_for("alice", "id -u\ncat /proc/net/dev", options=options))

    lines, _ = run_to_end(process)
    host = dockerd.containers.get(process.ref["container_id"]).attrs["HostConfig"]
    assert (host["NetworkMode"], host["PidsLimit"]) == ("bridge", 64)
    assert b"0\n" in lines
    assert any(line.strip().startswith(b"eth0:") for line in lines)


def test_it_runs_bash_by_default_so_an_image_without_bash_exits_127(spec_for, started, dockerd):
    lines, exit_ = run_to_end(started(spec_for("alice", "echo hi", options={})))

    assert exit_.exit_code == 127
    assert any(b"bash" in line for line in lines)


def test_it_offers_the_daemons_cpus_and_memory_and_the_configured_slots(
    docker_engine, dockerd, monkeypatch
):
    monkeypatch.setenv("EXECUTIONS_SLOTS", "3")
    info = dockerd.info()

    capacity = docker_engine.capacity()

    assert capacity.slots == 3
    assert capacity.cpus == float(info["NCPU"])
    assert capacity.mem_mb == info["MemTotal"] // MIB
    assert DockerEngine({"slots": 5}).capacity().slots == 5
    with pytest.raises(LaunchRefused, match="slots"):
        DockerEngine({"slots": "many"}).capacity()


def test_it_says_the_engine_is_unavailable_when_dockerd_does_not_answer(spec_for):
    engine = DockerEngine({"docker_host": NOWHERE})
    spec = spec_for("alice", "echo hi", options={**BUSYBOX, "docker_host": NOWHERE})

    with pytest.raises(EngineUnavailable, match="does not answer"):
        engine.start(spec)
    with pytest.raises(EngineUnavailable):
        engine.capacity()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"options": {"shell": "zsh"}}, "shell must be one of"),
        ({"options": {"shell": ["sh"]}}, "shell must be one of"),
        ({"options": {**BUSYBOX, "pids_limit": "lots"}}, "pids_limit must be a whole number"),
        ({"options": {**BUSYBOX, "pids_limit": -1}}, "pids_limit is out of range"),
        ({"options": {**BUSYBOX, "pids_limit": 10**30}}, "pids_limit is out of range"),
        ({"options": {**BUSYBOX, "pids_limit": 2.5}}, "pids_limit must be a whole number"),
        ({"options": {**BUSYBOX, "user": "nosuchuser"}}, "unable to find user"),
        ({"options": {**BUSYBOX, "api_timeout": "soon"}}, "api_timeout must be seconds"),
        ({"options": {**BUSYBOX, "api_timeout": -5}}, "api_timeout must be seconds"),
        ({"options": {**BUSYBOX, "network_mode": "nosuchnet"}}, "nosuchnet"),
        ({"mem_mb": 1}, "memory limit"),
        ({"mem_mb": 10**13}, "memory limit"),
        ({"cpus": 10.0**13}, "CPUs"),
        ({"cpus": math.nan}, "CPUs"),
        ({"cpus": -1.0}, "CPUs"),
        ({"cpus": 1000.0}, "Range of CPUs"),
        ({"gpus": 1}, "could not start the command"),
        ({"image": ""}, "needs an image"),
        ({"image": "UPPER/Case::bad"}, "is unusable"),
        ({"image": "x" * 5000}, "image"),
        ({"command": "echo \0 hi"}, "NUL"),
        ({"execution_id": "../../etc"}, "cannot name a container"),
        ({"execution_id": ""}, "cannot name a container"),
        ({"execution_id": "x" * 129}, "cannot name a container"),
    ],
)
def test_it_refuses_garbage_and_leaves_no_container(
    spec_for, docker_engine, dockerd, fields, reason
):
    fields = dict(fields)
    spec = spec_for("mallory", fields.pop("command", "echo hi"), **fields)

    with pytest.raises(LaunchRefused, match=reason):
        docker_engine.start(spec)

    assert containers_of(dockerd, spec.execution_id) == []
