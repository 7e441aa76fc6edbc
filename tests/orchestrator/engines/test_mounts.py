"""Mounts applied by each engine: host directories bound read-only or read-write on the local
engine (bubblewrap) and the docker engine (the real dockerd), a docker volume made and removed,
hostPath volumes in the Kubernetes Job (checked against the schema), and every engine's own
refusal of a host path outside EXECUTIONS_HOST_MOUNT_ROOTS.

Alice's job reads reference data from /refs and writes results into /results."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest

from domain.executions.mounts import Mount
from orchestrator.engines.base import LaunchRefused, LaunchSpec
from orchestrator.engines.docker import volume_name
from orchestrator.engines.kubernetes import job_manifest
from orchestrator.engines.local import LocalEngine
from tests.support.containers import TEST_LABEL, TEST_RUN, execution_id, run_to_end

NOBODY = 65534
# Reads the reference, tries to write beside it, writes a result.
COMMAND = (
    "cat /refs/ref.txt; "
    "if touch /refs/new 2>/dev/null; then echo refs-writable; else echo refs-read-only; fi; "
    "echo 42 > /results/answer.txt && echo results-written"
)


@pytest.fixture
def roots(monkeypatch) -> Iterator[Path]:
    """An allowed root holding Alice's read-only references and a results directory that the
    command's user (nobody) may write. Under /tmp itself: nobody must reach it."""
    root = Path(tempfile.mkdtemp(prefix="regatta-mounts-"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "ref.txt").write_text("reference data\n")
    (root / "results").mkdir()
    os.chown(root / "results", NOBODY, NOBODY)
    for path in (root, root / "refs"):
        path.chmod(0o755)
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _mounts(root: Path) -> tuple[Mount, ...]:
    return (
        Mount(name="refs", path="/refs", read_only=True, host_path=str(root / "refs")),
        Mount(name="results", path="/results", read_only=False, host_path=str(root / "results")),
    )


def _outside(tmp_path: Path) -> tuple[Mount, ...]:
    return (Mount(name="etc", path="/etc-copy", read_only=True, host_path="/etc"),)


# Local engine --------------------------------------------------------------------------------


@pytest.fixture
def local(roots, monkeypatch) -> LocalEngine:
    scratch = roots / "scratch"
    scratch.mkdir()
    scratch.chmod(0o711)
    monkeypatch.setenv("EXECUTIONS_SCRATCH_DIR", str(scratch))
    return LocalEngine()


def _local_run(engine: LocalEngine, command: str, mounts: tuple[Mount, ...]):
    process = engine.start(
        LaunchSpec(execution_id=execution_id("alice"), command=command, env=[], mounts=mounts)
    )
    try:
        lines = list(process.lines())
        return lines, process.wait()
    finally:
        process.cleanup()


def test_the_local_engine_binds_ro_readable_and_not_writable_and_rw_writable(local, roots):
    lines, exit_ = _local_run(local, COMMAND, _mounts(roots))

    assert exit_.exit_code == 0, lines
    assert b"reference data\n" in lines
    assert b"refs-read-only\n" in lines and b"results-written\n" in lines
    assert not (roots / "refs" / "new").exists()
    assert (roots / "results" / "answer.txt").read_text() == "42\n"


def test_the_local_engine_makes_a_mount_point_below_a_host_directory_without_touching_it(
    local, roots
):
    mounts = (Mount(name="refs", path="/srv/alice/refs", read_only=True, host_path=str(roots)),)
    lines, exit_ = _local_run(local, "ls /srv/alice/refs; ls / | grep -c usr", mounts)

    assert exit_.exit_code == 0, lines
    assert b"refs\n" in lines and b"results\n" in lines
    assert not Path("/srv/alice").exists()


def test_the_local_engine_runs_without_mounts_as_before(local):
    lines, exit_ = _local_run(local, "echo plain", ())
    assert (lines[-1], exit_.exit_code) == (b"plain\n", 0)


def test_the_local_engine_refuses_a_host_path_outside_the_roots(local, roots, tmp_path):
    with pytest.raises(LaunchRefused, match="not under EXECUTIONS_HOST_MOUNT_ROOTS"):
        local.start(
            LaunchSpec(execution_id="mallory-1", command="true", env=[], mounts=_outside(tmp_path))
        )
    assert not (roots / "scratch" / "mallory-1").exists()


def test_the_local_engine_refuses_a_volume_mount(local, roots):
    volume = Mount(name="tmp", path="/scratch", read_only=False, kind="volume")
    with pytest.raises(LaunchRefused, match="only host mounts"):
        local.start(LaunchSpec(execution_id="alice-v", command="true", env=[], mounts=(volume,)))


def test_the_local_engine_refuses_mounts_without_bubblewrap(local, roots, monkeypatch):
    monkeypatch.setattr("orchestrator.engines.sandbox.SEARCH_PATH", "/nonexistent")
    with pytest.raises(LaunchRefused, match="bubblewrap"):
        local.start(
            LaunchSpec(execution_id="alice-b", command="true", env=[], mounts=_mounts(roots))
        )


# Docker engine -------------------------------------------------------------------------------


def test_the_docker_engine_binds_ro_readable_and_not_writable_and_rw_writable(
    spec_for, started, roots
):
    process = started(spec_for("alice", COMMAND, mounts=_mounts(roots)))
    lines, exit_ = run_to_end(process)

    assert exit_.exit_code == 0, lines
    assert b"reference data\n" in lines
    assert b"refs-read-only\n" in lines and b"results-written\n" in lines
    assert not (roots / "refs" / "new").exists()
    assert (roots / "results" / "answer.txt").read_text() == "42\n"


def test_the_docker_engine_makes_a_named_volume_and_removes_it(spec_for, started, dockerd):
    volume = Mount(
        name="work",
        path="/work",
        read_only=False,
        kind="volume",
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs"},
    )
    spec = spec_for("alice", "echo kept > /work/f && cat /work/f", mounts=(volume,))
    process = started(spec)
    lines, exit_ = run_to_end(process)

    assert (exit_.exit_code, lines[-1]) == (0, b"kept\n")
    made = dockerd.volumes.get(volume_name(spec.execution_id, "work"))
    assert made.attrs["Options"] == {"type": "tmpfs", "device": "tmpfs"}
    process.cleanup()
    assert dockerd.volumes.list(filters={"name": volume_name(spec.execution_id, "work")}) == []


@pytest.mark.parametrize(
    "mount",
    [
        Mount(name="etc", path="/e", read_only=True, host_path="/etc"),
        # docker's local driver binding a host directory is a host mount too.
        Mount(
            name="etc",
            path="/e",
            read_only=True,
            kind="volume",
            driver_opts={"type": "none", "o": "bind", "device": "/etc"},
        ),
    ],
)
def test_the_docker_engine_refuses_a_host_path_outside_the_roots(
    spec_for, docker_engine, dockerd, roots, mount
):
    spec = spec_for("mallory", "cat /e/shadow", mounts=(mount,))
    with pytest.raises(LaunchRefused, match="not under EXECUTIONS_HOST_MOUNT_ROOTS"):
        docker_engine.start(spec)
    assert dockerd.containers.list(all=True, filters={"label": f"{TEST_LABEL}={TEST_RUN}"}) == []


def test_the_docker_engine_stages_the_scratch_directory_for_the_container_user(
    spec_for, started, tmp_path, monkeypatch
):
    monkeypatch.setenv("EXECUTIONS_SCRATCH_DIR", str(tmp_path / "scratch"))
    collected = {}

    def prepare(workdir: Path) -> list[tuple[str, str]]:
        (workdir / "inputs").mkdir(mode=0o755)
        (workdir / "inputs" / "in.txt").write_text("pixels")
        (workdir / "inputs" / "in.txt").chmod(0o644)
        (workdir / "outputs").mkdir(mode=0o700)
        return [("IN", str(workdir / "inputs" / "in.txt")), ("OUT", str(workdir / "outputs"))]

    command = (
        'echo "$(cat "$IN")"; cp "$IN" "$OUT/copy.txt" && echo output-written; '
        'if echo x > "$IN"; then echo input-writable; fi; '
        'if touch "$OUT/../stray"; then echo workdir-writable; fi'
    )
    spec = spec_for(
        "alice",
        command,
        prepare=prepare,
        collect=lambda w: collected.update(files=sorted(os.listdir(w / "outputs"))),
        workdir_writable=("outputs",),
    )
    process = started(spec)
    lines, exit_ = run_to_end(process)

    assert exit_.exit_code == 0, lines
    assert b"pixels\n" in lines and b"output-written\n" in lines
    assert b"input-writable\n" not in lines and b"workdir-writable\n" not in lines
    workdir = process.workdir
    assert (workdir / "outputs").stat().st_uid == NOBODY
    assert (workdir / "inputs").stat().st_uid == 0 and workdir.stat().st_uid == 0
    spec.collect(workdir)
    assert collected == {"files": ["copy.txt"]}
    process.cleanup()
    assert not workdir.exists()


# Kubernetes engine ---------------------------------------------------------------------------


def _kube_spec(**fields) -> LaunchSpec:
    return LaunchSpec(
        execution_id="alice-job-1", command="ls /refs", env=[], image="seed/alice:1", **fields
    )


def test_the_kubernetes_job_mounts_host_paths_and_passes_the_schema(roots):
    manifest = job_manifest(_kube_spec(mounts=_mounts(roots)))

    assert kubernetes_validate.validate(manifest, "1.30", strict=True) == "1.30"
    pod = manifest["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "mount-0", "hostPath": {"path": str(roots / "refs"), "type": "Directory"}},
        {"name": "mount-1", "hostPath": {"path": str(roots / "results"), "type": "Directory"}},
    ]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "mount-0", "mountPath": "/refs", "readOnly": True},
        {"name": "mount-1", "mountPath": "/results", "readOnly": False},
    ]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"mounts": (Mount(name="etc", path="/e", read_only=True, host_path="/etc"),)}, "ROOTS"),
        (
            {"mounts": (Mount(name="up", path="/e", read_only=True, host_path="{root}/../.."),)},
            "ROOTS",
        ),
        ({"mounts": (Mount(name="v", path="/v", read_only=True, kind="volume"),)}, "volume"),
        ({"stages_files": True}, "cannot stage input files or collect output files"),
    ],
)
def test_the_kubernetes_engine_refuses_what_it_cannot_mount_or_stage(roots, fields, says):
    if "mounts" in fields:
        mount = fields["mounts"][0]
        host_path = mount.host_path.format(root=roots)
        fields = {"mounts": (Mount(**{**mount.__dict__, "host_path": host_path}),)}
    with pytest.raises(LaunchRefused, match=says):
        job_manifest(_kube_spec(**fields))
