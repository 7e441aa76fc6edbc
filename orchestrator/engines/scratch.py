"""Scratch directories of host engines (local, docker): one per execution under
`EXECUTIONS_SCRATCH_DIR`, where the owner's prepare step stages files before the command and its
collect step reads them after it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from domain.common.env import env_str
from orchestrator.engines.base import LaunchRefused, LaunchSpec


def scratch_root() -> Path:
    return Path(env_str("EXECUTIONS_SCRATCH_DIR") or Path(tempfile.gettempdir()) / "regatta-runs")


def scratch_make(execution_id: str, *, owner: tuple[int, int] | None, mode: int) -> Path:
    """The execution's directory, owned by `owner` (uid, gid) when given."""
    root = scratch_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o711)
    workdir = root / execution_id
    workdir.mkdir(mode=mode, exist_ok=True)
    if owner is not None:
        os.chown(workdir, *owner)
    return workdir


def scratch_prepare(spec: LaunchSpec, workdir: Path) -> list[tuple[str, str]]:
    """The owner's preparation of the scratch directory (a job's input files), and the
    variables it adds. A failure removes the directory and refuses the launch: the command
    would miss what it needs."""
    if spec.prepare is None:
        return []
    try:
        return spec.prepare(workdir)
    except Exception as exc:  # noqa: BLE001
        # Whatever the owner's preparation raised (a missing input file, a full disk, a store
        # that is down) means this command cannot start as asked: a refused launch, not a crash.
        shutil.rmtree(workdir, ignore_errors=True)
        raise LaunchRefused(f"could not prepare the scratch directory: {exc}") from exc
