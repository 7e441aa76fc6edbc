"""`make run` (deploy/run.py) as a newcomer starts it: a clean environment, the embedded default.

Used by the tests that start the whole service: tests/e2e/test_run.py (start and stop) and
tests/e2e/test_embedded_default.py (the families served on SQLite and the embedded Valkey).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.processes import ROOT, free_port, wait_until


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their forks, …), from `ps`."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid="], capture_output=True, text=True)
    rows = [tuple(map(int, line.split())) for line in out.stdout.splitlines() if line.strip()]
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp, _ in rows if pp in frontier} - found
        found |= children
        frontier = children
    return found


def service_processes(data_dir: Path) -> set[int]:
    """Live processes of the service in `data_dir`, from /proc: whoever their parent is now.

    Every process the launcher starts inherits REGATTA_DATA_DIR, so an orphan (parent 1) is found
    too, where a walk down from the launcher would miss it. Valkey writes its title over its
    environment; its title names the socket in the data directory instead.
    """
    marker = f"REGATTA_DATA_DIR={data_dir}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        ours = marker in environ or str(data_dir) in cmdline(int(entry.name))
        if ours and state != "Z":  # a zombie holds nothing
            found.add(int(entry.name))
    return found


def socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def port_free(port: int) -> bool:
    """Whether a new server could listen on 127.0.0.1:`port` (as gunicorn would, SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
            still.add(pid)
        except ProcessLookupError:
            pass
    return still


def fresh_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a newcomer's shell has: no database, no Redis, none of the suite's own settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(REGATTA_DATA_DIR=str(tmp_path / "var"), **extra)
    return env


@dataclass
class MakeRun:
    """A running deploy/run.py and where to reach it."""

    proc: subprocess.Popen
    env: dict[str, str]
    url: str
    flower_url: str
    data_dir: Path
    log_path: Path
    port: int
    flower_port: int

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def banner(self) -> str:
        """The whole output once the "Regatta is up." banner is in it."""
        return wait_until(
            lambda: "Regatta is up." in (text := self.output()) and text,
            timeout=10,
            message="the banner",
        )

    def launcher_pid(self) -> int:
        """deploy/run.py's pid: `proc` itself, or its child when started through `make run`."""
        for pid in (self.proc.pid, *sorted(descendants(self.proc.pid))):
            if cmdline(pid).rstrip().endswith("deploy/run.py"):
                return pid
        raise AssertionError(f"no deploy/run.py at or below {self.proc.pid}")

    def leftovers(self) -> str:
        """What of the service is still there: '' when no process, no port, no socket is left."""
        left = [f"process {pid}: {cmdline(pid)}" for pid in service_processes(self.data_dir)]
        left += [f"port {p} in use" for p in (self.port, self.flower_port) if not port_free(p)]
        if socket_answers(self.data_dir / "redis.sock"):
            left.append("the data directory's redis.sock still answers")
        return "\n".join(left)

    def admin_token(self) -> str:
        """The admin token the first start made. Its output is no terminal here, so the token is
        in a 0600 file in the data directory and only the file's path is printed."""
        path = self.data_dir / "admin-token"
        assert str(path) in self.banner(), self.output()
        return path.read_text().strip()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def start_make_run(tmp_path: Path, *, via_make: bool = False, **extra: str) -> MakeRun:
    """Start deploy/run.py with a clean environment and free ports; return once /healthz is 200.

    It leads its own process group, as a terminal's foreground job does (`os.killpg(proc.pid, …)`
    is what Ctrl-C sends); `via_make` starts it as `make run` does, make leading the group.
    The caller stops it (`proc.send_signal`), or `stop_make_run` on the way out of a test.
    """
    port, flower_port = free_port(), free_port()
    env = fresh_env(tmp_path, PORT=str(port), FLOWER_PORT=str(flower_port), **extra)
    log_path = tmp_path / "run.log"
    argv = ["make", "run"] if via_make else [sys.executable, "deploy/run.py"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = MakeRun(
        proc=proc,
        env=env,
        url=f"http://127.0.0.1:{port}",
        flower_url=f"http://127.0.0.1:{flower_port}/",
        data_dir=tmp_path / "var",
        log_path=log_path,
        port=port,
        flower_port=flower_port,
    )

    def healthy() -> bool:
        assert proc.poll() is None, run.output()
        try:
            return requests.get(f"{run.url}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_until(healthy, timeout=120, interval=0.5, message="make run to become healthy")
    except BaseException:
        stop_make_run(run)
        raise
    return run


def stop_make_run(run: MakeRun) -> None:
    """On the way out of a test: SIGTERM as Ctrl-C would, then kill whatever is left.

    Whatever is left includes what a failed test orphaned: found by its data directory.
    """
    children = descendants(run.proc.pid)
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
        try:
            run.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait()
    for pid in alive(children) | service_processes(run.data_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
