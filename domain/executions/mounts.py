"""Mounts: directories an execution's command sees besides its own scratch directory.

An owner chooses them (a Scale job maps its manifest's mounts through its configuration) and
they travel with the execution as plain data, `[{name, path, mode, type, …}, …]`:

    {"name": "refs", "path": "/refs", "mode": "ro", "type": "host", "host_path": "/srv/refs"}
    {"name": "tmp", "path": "/scratch", "mode": "rw", "type": "volume",
     "driver": "local", "driver_opts": {"type": "tmpfs", "device": "tmpfs"}}

A host mount exposes a host directory to a command that is attacker input, so only directories
under `EXECUTIONS_HOST_MOUNT_ROOTS` (colon-separated absolute paths; empty: none) may be
mounted. The same check runs where a mount is configured and again where it is applied.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.common.env import env_str
from domain.common.errors import InvalidInput

MODES = ("ro", "rw")
KINDS = ("host", "volume")
# docker's own `local` volume driver (also the default, "") can bind any host directory
# through its options: such a volume is a host mount and is held to the same roots.
LOCAL_DRIVERS = ("", "local")


@dataclass(frozen=True)
class Mount:
    name: str
    path: str  # absolute, where the command sees it
    read_only: bool
    kind: str = "host"  # "host" | "volume"
    host_path: str = ""
    driver: str = ""
    driver_opts: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        data = {
            "name": self.name,
            "path": self.path,
            "mode": "ro" if self.read_only else "rw",
            "type": self.kind,
        }
        if self.kind == "host":
            data["host_path"] = self.host_path
        else:
            data["driver"] = self.driver
            data["driver_opts"] = dict(self.driver_opts)
        return data


def mounts_parse(raw: Iterable[dict] | None) -> tuple[Mount, ...]:
    """The mounts an execution row holds, read back; InvalidInput for a malformed one."""
    return tuple(_mount(item) for item in raw or ())


def _mount(item: dict) -> Mount:
    if not isinstance(item, dict):
        raise InvalidInput("a mount must be an object")
    name, path, mode, kind = (item.get(k) for k in ("name", "path", "mode", "type"))
    if not isinstance(name, str) or not name:
        raise InvalidInput("a mount needs a name")
    if not isinstance(path, str) or not posixpath.isabs(path) or "\0" in path:
        raise InvalidInput(f"mount {name} needs an absolute path")
    if mode not in MODES or kind not in KINDS:
        raise InvalidInput(f"mount {name} needs a mode in {MODES} and a type in {KINDS}")
    if kind == "host":
        host_path = item.get("host_path")
        if not isinstance(host_path, str) or not posixpath.isabs(host_path) or "\0" in host_path:
            raise InvalidInput(f"host mount {name} needs an absolute host_path")
        return Mount(name=name, path=path, read_only=mode == "ro", host_path=host_path)
    driver, opts = item.get("driver") or "", item.get("driver_opts") or {}
    if not isinstance(driver, str) or not isinstance(opts, dict):
        raise InvalidInput(f"volume mount {name} needs a driver name and string options")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in opts.items()):
        raise InvalidInput(f"volume mount {name} needs a driver name and string options")
    return Mount(
        name=name, path=path, read_only=mode == "ro", kind="volume", driver=driver, driver_opts=opts
    )


def host_mount_roots() -> list[str]:
    """`EXECUTIONS_HOST_MOUNT_ROOTS`, each resolved (symbolic links, `..`) on this host."""
    raw = env_str("EXECUTIONS_HOST_MOUNT_ROOTS")
    return [os.path.realpath(p) for p in raw.split(":") if p.strip() and posixpath.isabs(p)]


def host_path_allowed(host_path: str, *, resolve: bool = True) -> str | None:
    """The resolved host path when it lies under an allowed root, else None. With
    `resolve=False` (a path on another machine, a Kubernetes node) only `..` and doubled
    slashes are taken out: its symbolic links cannot be seen from here."""
    if not posixpath.isabs(host_path) or "\0" in host_path:
        return None
    resolved = os.path.realpath(host_path) if resolve else posixpath.normpath(host_path)
    for root in host_mount_roots():
        if resolved == root or resolved.startswith(root.rstrip("/") + "/"):
            return resolved
    return None


def volume_host_path(driver: str, driver_opts: dict[str, str]) -> str | None:
    """The host directory a volume binds, when it is docker's local driver asked to bind one
    (`o: bind`, or `type: none`); None for a real volume."""
    if driver not in LOCAL_DRIVERS:
        return None
    options = {o.strip() for o in driver_opts.get("o", "").split(",")}
    if "bind" in options or "rbind" in options or driver_opts.get("type") == "none":
        return driver_opts.get("device", "")
    return None


def mount_refusal(mount: Mount, *, resolve: bool = True) -> str | None:
    """Why `mount` may not be applied here, or None when it may."""
    host_path = mount.host_path if mount.kind == "host" else None
    if mount.kind == "volume":
        host_path = volume_host_path(mount.driver, mount.driver_opts)
    if host_path is None or host_path_allowed(host_path, resolve=resolve):
        return None
    return (
        f"mount {mount.name}: host path {host_path!r} is not under EXECUTIONS_HOST_MOUNT_ROOTS"
        f" ({':'.join(host_mount_roots()) or 'empty: no host mounts allowed'})"
    )


class MountRefused(InvalidInput):
    """A mount this host may not apply (a host path outside the allowed roots)."""


def mounts_resolved(mounts: Iterable[Mount], *, resolve: bool = True) -> tuple[Mount, ...]:
    """`mounts` with each host path resolved as it will be bound, so a symbolic link swapped in
    after the check cannot point the bind elsewhere; MountRefused for one not allowed."""
    checked = []
    for mount in mounts:
        reason = mount_refusal(mount, resolve=resolve)
        if reason is not None:
            raise MountRefused(reason)
        if mount.kind == "host":
            resolved = host_path_allowed(mount.host_path, resolve=resolve) or mount.host_path
            mount = dataclasses.replace(mount, host_path=resolved)
        checked.append(mount)
    return tuple(checked)
