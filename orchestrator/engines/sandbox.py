"""Mounts on the local engine: the command runs under bubblewrap (`bwrap`) in a mount namespace
of its own whose root rebuilds the host's, with each mount bound at its path.

bwrap's new root is an empty tmpfs. Every entry of the host's `/` is bound into it as it is
(read-write where the host lets the command's user write, as without mounts), except along the
way to a mount's path: there a directory of the tmpfs stands in and the host directory's
entries are bound into it one by one, so the mount point is made in the tmpfs and never on the
host. A path that passes through a host symbolic link or file is refused: binding along it
would change what the link means for everything else.

Only executions with mounts pay for this; the rest run `bash` directly, exactly as before.
bwrap runs as the command's user (unprivileged, in a user namespace of its own), after the
cgroup join, so the limits hold for it and for everything it starts. The pid namespace is the
host's: the engine's stop (the process group, the cgroups) reaches the command as before.
"""

from __future__ import annotations

import os
import shutil
from pathlib import PurePosixPath

from domain.executions.mounts import Mount, MountRefused, mounts_resolved
from orchestrator.engines.base import LaunchRefused

SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Host directories bound with their device nodes usable (bwrap's plain bind forbids them).
DEVICE_DIRS = ("/dev",)


def sandbox_argv(mounts: tuple[Mount, ...], argv: list[str]) -> list[str]:
    """`argv` wrapped in bwrap with `mounts` applied; LaunchRefused when that cannot be done."""
    bwrap = shutil.which("bwrap", path=SEARCH_PATH)
    if bwrap is None:
        raise LaunchRefused(
            "this execution has mounts and the local engine applies them with bubblewrap,"
            " which is not installed on this host (apt-get install bubblewrap)"
        )
    checked = _checked(mounts)
    targets = {PurePosixPath(m.path) for m in checked}
    args = [bwrap, "--die-with-parent", *_rebuilt(PurePosixPath("/"), targets)]
    # Shallow first, so a mount inside another lands on top of it.
    for mount in sorted(checked, key=lambda m: len(PurePosixPath(m.path).parts)):
        args += ["--ro-bind" if mount.read_only else "--bind", mount.host_path, mount.path]
    return [*args, "--", *argv]


def _checked(mounts: tuple[Mount, ...]) -> tuple[Mount, ...]:
    try:
        checked = mounts_resolved(mounts)
    except MountRefused as exc:
        raise LaunchRefused(exc.message) from exc
    for mount in checked:
        if mount.kind != "host":
            raise LaunchRefused(
                f"mount {mount.name} is a volume: the local engine applies only host mounts"
                " (volumes need the docker engine)"
            )
        if PurePosixPath(mount.path) == PurePosixPath("/") or ".." in mount.path.split("/"):
            raise LaunchRefused(f"mount {mount.name} cannot be mounted at {mount.path!r}")
        if not os.path.isdir(mount.host_path):
            raise LaunchRefused(f"mount {mount.name}: no directory {mount.host_path} on this host")
    return checked


def _rebuilt(directory: PurePosixPath, targets: set[PurePosixPath]) -> list[str]:
    """bwrap arguments that fill the tmpfs `directory` with the host's entries, except the
    mount targets themselves (each is bound later)."""
    args: list[str] = []
    for name in sorted(os.listdir(directory)):
        path = directory / name
        if path in targets:
            continue
        if any(path in t.parents for t in targets):
            if os.path.islink(path) or not os.path.isdir(path):
                raise LaunchRefused(
                    f"a mount below {path} cannot be made: on this host it is not a directory"
                )
            args += ["--dir", str(path), *_rebuilt(path, targets)]
        elif os.path.islink(path):
            args += ["--symlink", os.readlink(path), str(path)]
        elif str(path) in DEVICE_DIRS:
            args += ["--dev-bind", str(path), str(path)]
        else:
            args += ["--bind", str(path), str(path)]
    return args
