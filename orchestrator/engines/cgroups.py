"""cgroup v1 groups for one local execution: memory, cpu and pids limits, OOM and usage reads,
and a kill that reaches every process of the run, even one that left its process group.

Each controller's group is made below the one this process sits in (read from
/proc/self/cgroup), so a sandboxed worker nests its runs inside its own limits. Where a
controller is not mounted or not writable, `RunGroup.create` leaves it out and says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
REMOVE_PATIENCE = 5.0
CONTROLLERS = ("memory", "cpu", "pids", "cpuacct")
CFS_PERIOD_US = 100_000


def _own_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            for name in names.split(","):
                paths[name] = path
    return paths


@dataclass
class RunGroup:
    name: str
    dirs: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, name: str) -> RunGroup:
        group = cls(name=name)
        own = _own_paths()
        for controller in CONTROLLERS:
            base = ROOT / controller
            if controller not in own or not base.is_dir():
                group.missing.append(controller)
                continue
            path = base / own[controller].lstrip("/") / name
            try:
                path.mkdir(exist_ok=True)
            except OSError:
                group.missing.append(controller)
                continue
            group.dirs[controller] = path
        return group

    @classmethod
    def existing(cls, name: str) -> RunGroup:
        """The groups called `name` that exist still (a run whose supervisor died)."""
        group = cls(name=name)
        own = _own_paths()
        for controller in CONTROLLERS:
            path = ROOT / controller / own.get(controller, "/").lstrip("/") / name
            if controller in own and path.is_dir():
                group.dirs[controller] = path
        return group

    def limit(self, *, mem_mb: int | None, cpus: float | None, pids: int | None) -> list[str]:
        """Apply the limits it can; returns the ones it could not."""
        failed = []
        if mem_mb:
            limit = str(int(mem_mb) * 1024 * 1024)
            # memsw first raised is refused while below the memory limit: memory first.
            ok = self._write("memory", "memory.limit_in_bytes", limit)
            self._write("memory", "memory.memsw.limit_in_bytes", limit)
            if not ok:
                failed.append("memory")
        if cpus:
            ok = self._write("cpu", "cpu.cfs_period_us", str(CFS_PERIOD_US)) and self._write(
                "cpu", "cpu.cfs_quota_us", str(max(1000, int(cpus * CFS_PERIOD_US)))
            )
            if not ok:
                failed.append("cpu")
        if pids and not self._write("pids", "pids.max", str(pids)):
            failed.append("pids")
        return failed

    def join(self, pid: int = 0) -> None:
        """Move `pid` (0: the caller) into every group; runs in the child before exec."""
        for path in self.dirs.values():
            (path / "cgroup.procs").write_text(str(pid or os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return found

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def oom_killed(self) -> bool:
        text = self._read("memory", "memory.oom_control")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def usage(self) -> dict:
        usage: dict = {}
        peak = self._read("memory", "memory.max_usage_in_bytes").strip()
        if peak.isdigit():
            usage["max_mem_mb"] = round(int(peak) / (1024 * 1024), 1)
        cpu_ns = self._read("cpuacct", "cpuacct.usage").strip()
        if cpu_ns.isdigit():
            usage["cpu_seconds"] = round(int(cpu_ns) / 1e9, 3)
        return usage

    def remove(self, *, patience: float = REMOVE_PATIENCE) -> None:
        """Remove the groups, killing what is left in them. A process SIGKILLed a moment ago may
        still be exiting, and a group that holds a process cannot be removed: try again for a
        moment rather than leave the directory behind."""
        give_up = time.monotonic() + patience
        for path in self.dirs.values():
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > give_up:
                        logger.warning("cgroup %s still busy; left in place", path)
                        break
                    self.kill_all(signal.SIGKILL)
                    time.sleep(0.02)

    def _write(self, controller: str, name: str, value: str) -> bool:
        path = self.dirs.get(controller)
        if path is None:
            return False
        try:
            (path / name).write_text(value)
        except OSError:
            return False
        return True

    def _read(self, controller: str, name: str) -> str:
        path = self.dirs.get(controller)
        if path is None:
            return ""
        try:
            return (path / name).read_text()
        except OSError:
            return ""
