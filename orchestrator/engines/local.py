"""The local engine: the command runs on this host as `bash -cex "<command>"`.

Each run gets its own session and process group, a fresh scratch directory as its working
directory and HOME, only the environment its owner merged (never the worker's own, which holds
the database URL), and, when the worker runs as root, an unprivileged user (`RUNS_LOCAL_USER`,
`nobody` by default). Memory, CPU and process limits go through cgroup v1 where the machine lets
us write it, else through RLIMITs (a weaker cap: see docs/engines.md). The definition's image is
recorded but not used: this engine runs on the host's own filesystem. An execution with mounts
runs under bubblewrap, which binds them at their paths (orchestrator/engines/sandbox.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from domain.common.env import env_int, env_str
from domain.executions import conf
from orchestrator.engines.base import Capacity, Exit, LaunchRefused, LaunchSpec
from orchestrator.engines.cgroups import RunGroup
from orchestrator.engines.lines import LineSplitter
from orchestrator.engines.sandbox import sandbox_argv
from orchestrator.engines.scratch import scratch_make, scratch_prepare, scratch_root

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READ_SIZE = 65536
OOM_REASON = "OOMKilled: the command exceeded its memory limit"
INHERITED_IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def run_user() -> pwd.struct_passwd | None:
    """Whom commands run as: `RUNS_LOCAL_USER` (default `nobody`) when the worker is root; the
    worker's own user otherwise (it cannot become anyone else)."""
    if os.geteuid() != 0:
        return None
    name = env_str("RUNS_LOCAL_USER", "nobody")
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise LaunchRefused(f"RUNS_LOCAL_USER {name!r} is no user on this host") from exc


class LocalEngine:
    name = "local"

    def capacity(self) -> Capacity:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        disk = shutil.disk_usage(
            scratch_root().parent if not scratch_root().exists() else scratch_root()
        )
        return Capacity(
            slots=conf.host_slots(),
            cpus=float(os.cpu_count() or 1),
            mem_mb=pages // (1024 * 1024),
            disk_mb=disk.free // (1024 * 1024),
        )

    def start(self, spec: LaunchSpec) -> LocalProcess:
        user = run_user()
        argv = ["bash", "-cex", spec.command]
        if spec.mounts:
            argv = sandbox_argv(spec.mounts, argv)
        owner = (user.pw_uid, user.pw_gid) if user is not None else None
        workdir = scratch_make(spec.execution_id, owner=owner, mode=0o700)
        group = RunGroup.create(f"regatta-{spec.execution_id}")
        unapplied = group.limit(
            mem_mb=spec.mem_mb, cpus=spec.cpus, pids=env_int("EXECUTIONS_PIDS_MAX", 4096)
        )
        rlimit_mem = spec.mem_mb if "memory" in unapplied or "memory" in group.missing else None
        try:
            prepared = scratch_prepare(spec, workdir)
        except LaunchRefused:
            group.remove()
            raise
        env = _environment([*spec.env, *prepared], workdir, user)
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if spec.separate_stderr else subprocess.STDOUT,
                cwd=workdir,
                env=env,
                start_new_session=True,
                close_fds=True,
                preexec_fn=_child_setup(group, user, rlimit_mem),
            )
        except OSError as exc:
            group.remove()
            shutil.rmtree(workdir, ignore_errors=True)
            raise LaunchRefused(f"could not start {argv[0]}: {exc}") from exc
        return LocalProcess(popen, group, workdir, limits_missing=sorted(set(unapplied)))

    def reap(self, execution_id: str) -> None:
        """Kill and remove whatever is left of an execution whose supervisor is gone: the
        processes of its cgroups (those the supervisor's death did not take along) and its
        scratch directory. Harmless for one that was cleaned up already."""
        RunGroup.existing(f"regatta-{execution_id}").remove()
        shutil.rmtree(scratch_root() / execution_id, ignore_errors=True)


def _environment(
    merged: list[tuple[str, str]], workdir: Path, user: pwd.struct_passwd | None
) -> dict[str, str]:
    env = {"PATH": BASE_PATH, "HOME": str(workdir), "LANG": "C.UTF-8", "TMPDIR": str(workdir)}
    if user is not None:
        env["USER"] = env["LOGNAME"] = user.pw_name
    for name, value in merged:
        # A NUL cannot cross exec; such a pair was refused at the API, never reaches here.
        if name and "\0" not in name and "=" not in name and "\0" not in value:
            env[name] = value
    return env


def _child_setup(group: RunGroup, user: pwd.struct_passwd | None, rlimit_mem: int | None):
    supervisor = os.getpid()

    def setup() -> None:
        # Runs in the child between fork and exec, as root still. The supervisor ignores some
        # signals, and an ignored signal stays ignored across exec: give the command the
        # defaults, or it could never be stopped gracefully (SIGTERM) or interrupted.
        for sig in INHERITED_IGNORED:
            signal.signal(sig, signal.SIG_DFL)
        # Join the run's cgroups first (an unprivileged process could not), then drop to the
        # run's user.
        group.join()
        if rlimit_mem:
            limit = rlimit_mem * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        # A supervisor killed outright takes its command with it, rather than leave it running
        # unsupervised while its owner retries it elsewhere. (After setuid, which clears it.)
        _die_with(supervisor)

    return setup


def _die_with(parent: int) -> None:
    if _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(137)


class LocalProcess:
    def __init__(
        self, popen: subprocess.Popen, group: RunGroup, workdir: Path, limits_missing: list[str]
    ) -> None:
        self.popen = popen
        self.group = group
        self.workdir = workdir
        self.ref = {"pid": popen.pid, "pgid": popen.pid, "limits_missing": limits_missing}
        self._killed_by_us = False

    def lines(self) -> Iterator[bytes]:
        for line, _ in self.tagged_lines():
            yield line

    def tagged_lines(self) -> Iterator[tuple[bytes, bool]]:
        """Each line with whether it came from stderr, in the order the lines completed. The
        two pipes are read as data arrives on either (one selector loop); each keeps its own
        unfinished line, bounded as split_lines bounds it."""
        assert self.popen.stdout is not None
        pipes = {self.popen.stdout: False}
        if self.popen.stderr is not None:
            pipes[self.popen.stderr] = True
        splitters = {pipe: LineSplitter(max_line=conf.LOG_MAX_LINE_BYTES) for pipe in pipes}
        with selectors.DefaultSelector() as selector:
            for pipe in pipes:
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map():
                # Both pipes ready at once: stderr's first, since a trace line of `bash -x`
                # is written before the output of the command it announces (a guess: the
                # order between two pipes is lost; see WorkdirHooks.separate_stderr).
                ready = sorted(selector.select(), key=lambda event: not pipes[event[0].fileobj])
                for key, _ in ready:
                    pipe = key.fileobj
                    # One read of what is there: os.read never waits for more once the
                    # selector said the pipe is readable.
                    data = os.read(key.fd, READ_SIZE)
                    if data:
                        lines = splitters[pipe].feed(data)
                    else:
                        selector.unregister(pipe)
                        lines = splitters[pipe].finish()
                        pipe.close()
                    for line in lines:
                        yield line, pipes[pipe]

    def finished(self) -> bool:
        return self.popen.poll() is not None

    def wait(self) -> Exit:
        code = self.popen.wait()
        # Whatever the command left behind in its group or cgroup goes with it.
        self._signal_all(signal.SIGKILL)
        oom = self.group.oom_killed()
        usage = self.group.usage()
        if code < 0:
            sig = -code
            return Exit(
                exit_code=128 + sig,
                oom=oom,
                signal=sig,
                usage=usage,
                reason=_signal_reason(sig, oom),
            )
        return Exit(exit_code=code, oom=oom, usage=usage, reason=OOM_REASON if oom else "")

    def terminate(self, *, grace: float) -> None:
        self._signal_all(signal.SIGTERM)
        timer = threading.Timer(grace, self._signal_all, args=(signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    def cleanup(self) -> None:
        self._signal_all(signal.SIGKILL)
        self.group.remove()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _signal_all(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)
        self.group.kill_all(sig)


def _signal_reason(sig: int, oom: bool) -> str:
    if oom:
        return OOM_REASON
    try:
        return f"killed by {signal.Signals(sig).name}"
    except ValueError:
        return f"killed by signal {sig}"
