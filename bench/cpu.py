"""CPU-seconds per process group, read from /proc, for both benches.

Each process counts utime + stime + cutime + cstime (fields 14-17 of /proc/<pid>/stat): its own
CPU and that of the children it has reaped. Summing that over the live members of a group before
and after a phase gives the group's CPU in the phase, including members that exited meanwhile (a
gunicorn worker reaped by its master, a pool process reaped by the bench), as long as their
parent is in the same group.

Groups: a process tree started by the bench (its leader and every descendant, found by walking
/proc by ppid); every process whose comm is `postgres` (the postmaster reaps ended backends);
`redis-server`/`valkey-server`; the bench process itself (its own utime + stime, all threads);
and the bench's other descendants (client processes; their reaped CPU is the bench's c-times).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable

TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
SERVER_COMMS = {"postgres": {"postgres"}, "redis": {"redis-server", "valkey-server"}}


def _stat(pid: int) -> tuple[str, int, list[int]] | None:
    """(comm, ppid, [utime, stime, cutime, cstime]) or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    return comm, int(fields[1]), [int(x) for x in fields[11:15]]


def _table() -> dict[int, tuple[str, int, list[int]]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            row = _stat(int(name))
            if row is not None:
                table[int(name)] = row
    return table


def _tree(table: dict, root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


class Meter:
    """CPU-seconds of named process groups between `start()` and `stop()`."""

    def __init__(
        self,
        trees: dict[str, Callable[[], Iterable[int]]],
        counters: dict[str, Callable[[dict[str, float]], float]] | None = None,
        servers: tuple[str, ...] = tuple(SERVER_COMMS),
    ) -> None:
        # trees: group name -> the leader pids (evaluated at each reading, so a restarted
        # process is followed). counters: group name -> CPU-seconds read another way (a
        # cgroup), given the tree readings (to subtract what they already count).
        self.trees = trees
        self.counters = counters or {}
        # The server groups counted by comm (a bench on SQLite has no PostgreSQL of its own).
        self.servers = servers
        self.before: dict[str, float] = {}
        self.started = 0.0
        self.phases: dict[str, dict[str, float]] = {}

    def read(self) -> dict[str, float]:
        table = _table()
        me = os.getpid()
        out: dict[str, float] = {}
        claimed: set[int] = {me}
        for name, leaders in self.trees.items():
            pids: set[int] = set()
            for leader in leaders():
                pids |= _tree(table, leader)
            claimed |= pids
            out[name] = sum(sum(table[p][2]) for p in pids) / TICK
        for name in self.servers:
            comms = SERVER_COMMS[name]
            out[name] = sum(sum(t) for c, _, t in table.values() if c in comms) / TICK
        own = table[me][2]
        others = _tree(table, me) - claimed
        # Reaped children of the bench are its client processes (services are stopped only
        # outside measured phases).
        out["clients"] = (own[2] + own[3] + sum(sum(table[p][2]) for p in others)) / TICK
        out["bench"] = (own[0] + own[1]) / TICK
        for name, counter in self.counters.items():
            out[name] = counter(out)
        return out

    def start(self) -> None:
        self.before = self.read()
        self.started = time.perf_counter()

    def phase(self, name: str, elapsed: float | None = None) -> dict[str, float]:
        """Record the CPU spent since `start()` as phase `name` (with its wall time)."""
        after = self.read()
        wall = time.perf_counter() - self.started if elapsed is None else elapsed
        spent = {k: after[k] - self.before.get(k, 0.0) for k in after}
        spent["wall"] = wall
        self.phases[name] = spent
        return spent

    @staticmethod
    def format(spent: dict[str, float]) -> str:
        groups = {k: v for k, v in spent.items() if k != "wall"}
        parts = " ".join(f"{k} {v:.2f}" for k, v in groups.items())
        total = sum(groups.values())
        busy = total / (spent["wall"] * CORES) * 100 if spent.get("wall") else float("nan")
        wall = spent["wall"]
        return f"CPU-s: {parts} | total {total:.1f} in {wall:.1f} s ({busy:.0f} % of {CORES} cores)"


class CpuacctGroup:
    """A cgroup v1 cpuacct group for processes that leave their parent's tree (the executions'
    supervisors detach into their own sessions and are reparented to init, so /proc's ppid
    walk loses them and the CPU they spent). Everything a member forks stays in the group, and
    the group's usage counts its sub-groups (each run's own cgroup) hierarchically."""

    def __init__(self, name: str) -> None:
        own = "/"
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, names, path = line.strip().split(":", 2)
                if "cpuacct" in names.split(","):
                    own = path
        self.path = os.path.join("/sys/fs/cgroup/cpuacct", own.lstrip("/"), name)
        os.makedirs(self.path, exist_ok=True)

    def add(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as fh:
            fh.write(str(pid))

    def add_tree(self, root: int) -> None:
        """`root` and every descendant it has now (a started worker and its pool)."""
        for pid in _tree(_table(), root):
            self.add(pid)

    def seconds(self) -> float:
        with open(os.path.join(self.path, "cpuacct.usage")) as fh:
            return int(fh.read()) / 1e9

    def remove(self) -> None:
        """Remove the group and the sub-groups its runs left, deepest first; a group that still
        holds a process stays (the kernel refuses), and so do its parents."""
        for directory, _, _ in sorted(os.walk(self.path), key=lambda w: -w[0].count("/")):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def children(pid: int) -> list[tuple[int, str]]:
    """The live children of `pid`, each with its command line (arguments joined by spaces)."""
    out = []
    for child, (_, ppid, _) in _table().items():
        if ppid == pid:
            try:
                with open(f"/proc/{child}/cmdline", "rb") as fh:
                    out.append((child, fh.read().replace(b"\0", b" ").decode(errors="replace")))
            except OSError:
                pass
    return out
