"""`make run` (deploy/run.py) as a newcomer starts it: a clean environment, the embedded default.

Used by the tests that start the whole service: tests/e2e/test_run.py (start and stop) and
tests/e2e/test_embedded_default.py (the families served on SQLite and the embedded Valkey).
"""

from __future__ import annotations

import os
import signal
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

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def banner(self) -> str:
        """The whole output once the "Regatta is up." banner is in it."""
        return wait_until(
            lambda: "Regatta is up." in (text := self.output()) and text,
            timeout=10,
            message="the banner",
        )

    def admin_token(self) -> str:
        """The admin token the first start made. Its output is no terminal here, so the token is
        in a 0600 file in the data directory and only the file's path is printed."""
        path = self.data_dir / "admin-token"
        assert str(path) in self.banner(), self.output()
        return path.read_text().strip()


def start_make_run(tmp_path: Path, **extra: str) -> MakeRun:
    """Start deploy/run.py with a clean environment and free ports; return once /healthz is 200.

    The caller stops it (`proc.send_signal`), or `stop_make_run` on the way out of a test.
    """
    port, flower_port = free_port(), free_port()
    env = fresh_env(tmp_path, PORT=str(port), FLOWER_PORT=str(flower_port), **extra)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "deploy/run.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    run = MakeRun(
        proc=proc,
        env=env,
        url=f"http://127.0.0.1:{port}",
        flower_url=f"http://127.0.0.1:{flower_port}/",
        data_dir=tmp_path / "var",
        log_path=log_path,
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

    Its children lead their own sessions, so killing deploy/run.py alone would orphan them.
    """
    children = descendants(run.proc.pid)
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
        try:
            run.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait()
    for pid in alive(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
