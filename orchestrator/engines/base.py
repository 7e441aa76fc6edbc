"""What every execution engine offers, and what the executions domain hands it.

Two kinds of engine:

- A **host engine** (local processes, docker) runs the command on the host whose slot was
  claimed. The launch task forks a supervisor (orchestrator/engines/supervisor.py) that outlives
  the worker, calls `start()`, streams `lines()` into the database, heartbeats, and records the
  exit through domain/executions.
- A **remote engine** (kubernetes) hands the command to a scheduler elsewhere: `launch()` returns
  at once, and a beat sweep reads `status()` and `read_logs()`.

Engines know nothing of runs or jobs, and nothing of the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from domain.executions.mounts import Mount


@dataclass(frozen=True)
class LaunchSpec:
    execution_id: str
    command: str  # run as `bash -cex "<command>"` (local) or the same inside the image
    env: list[tuple[str, str]]  # merged already, in order; later names win
    image: str = ""
    cpus: float | None = None  # whole or fractional CPUs
    mem_mb: int | None = None
    disk_mb: int | None = None
    gpus: int = 0
    deadline_seconds: int = 172800
    labels: dict[str, str] = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # the cluster's engine options (settings)
    # The owner's scratch-directory steps (domain/executions/owners.py WorkdirHooks), bound to
    # this execution: `prepare(workdir)` before the command (it returns variables to add to
    # its environment), `collect(workdir)` after it exited 0, before the directory is removed.
    prepare: Callable[[Path], list[tuple[str, str]]] | None = None
    collect: Callable[[Path], None] | None = None
    # What of the scratch directory the command writes (WorkdirHooks.writable).
    workdir_writable: tuple[str, ...] = ()
    # Directories the command sees besides its scratch directory (domain/executions/mounts.py);
    # every engine checks host paths against EXECUTIONS_HOST_MOUNT_ROOTS again before binding.
    mounts: tuple[Mount, ...] = ()
    # The owner stages files in the scratch directory or collects files from it: an engine that
    # has no scratch directory on a host (kubernetes) refuses the launch.
    stages_files: bool = False
    # Stderr read apart from stdout, each line marked (WorkdirHooks.separate_stderr; the local
    # and docker engines do; kubernetes joins it into stdout).
    separate_stderr: bool = False
    # For an engine that runs no `prepare` (kubernetes): the variable to set to an empty
    # writable directory for the command's outputs (WorkdirHooks.output_env; "" for none), and
    # the owner's secret variables, read at launch (WorkdirHooks.secret_env, bound to this
    # execution). Their values are handed to the command without being written into anything
    # others can read.
    output_env: str = ""
    secret_env: Callable[[], list[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class Exit:
    """How a command ended, as the engine saw it."""

    exit_code: int | None
    oom: bool = False
    # A signal number when a signal ended it (the local engine reports 128 + n as exit_code too).
    signal: int | None = None
    reason: str = ""
    usage: dict = field(default_factory=dict)  # {"max_mem_mb": …, "cpu_seconds": …}
    # The engine itself ended it at its deadline (a Kubernetes Job's activeDeadlineSeconds).
    timed_out: bool = False


@dataclass(frozen=True)
class Capacity:
    slots: int
    cpus: float
    mem_mb: int
    disk_mb: int
    gpus: int = 0


class Process(Protocol):
    """A command a host engine started. Used only inside its supervisor."""

    ref: dict  # what the row keeps as engine_ref (pid/pgid, container id)

    def lines(self) -> Iterator[bytes]:
        """The combined stdout/stderr, line by line (each ending in b"\\n" except perhaps the
        last); ends when the output closes. Never holds the whole output in memory."""
        ...

    def tagged_lines(self) -> Iterator[tuple[bytes, bool]]:
        """`lines()`, each with whether it came from stderr (read apart when the spec's
        `separate_stderr` is set; otherwise joined, all marked stdout)."""
        ...

    def wait(self) -> Exit:
        """Block until the command has ended (after `lines()` is exhausted) and say how."""
        ...

    def terminate(self, *, grace: float) -> None:
        """Stop the whole command: SIGTERM (or docker stop) to everything it started, SIGKILL
        to whatever is left after `grace` seconds. Returns at once; `wait()` sees the end."""
        ...

    def cleanup(self) -> None:
        """Remove what the start made (scratch directory, cgroups, container)."""
        ...


class HostEngine(Protocol):
    name: str

    def capacity(self) -> Capacity: ...

    def start(self, spec: LaunchSpec) -> Process:
        """Start the command now (inside the supervisor). Raise `LaunchRefused` for a spec the
        engine can never run (no such image, a limit it cannot apply)."""
        ...


@dataclass(frozen=True)
class RemoteStatus:
    state: str  # "PENDING" | "RUNNING" | "ENDED" | "MISSING"
    exit: Exit | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    ref: dict = field(default_factory=dict)  # e.g. the newest pod's name
    events: list[dict] = field(default_factory=list)  # [{timestamp,event_type,reason,…}]


class RemoteEngine(Protocol):
    name: str

    def launch(self, spec: LaunchSpec) -> dict:
        """Submit and return the engine_ref at once. "Already exists" counts as submitted."""
        ...

    def status(self, ref: dict) -> RemoteStatus: ...

    def stop(self, ref: dict) -> None: ...

    def read_logs(self, ref: dict, offset: int) -> tuple[list[str], int]:
        """Lines after line `offset`, and the new offset."""
        ...


class LaunchRefused(Exception):
    """The engine can never run this spec: the execution ends launch_failed, not retried."""


class EngineUnavailable(Exception):
    """The engine cannot take work now (daemon down, API unreachable): try again later."""
