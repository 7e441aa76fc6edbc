"""deploy/run.py (what `make run` starts): the whole service on the embedded default."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest
import requests

from tests.support.make_run import (
    MakeRun,
    alive,
    cmdline,
    descendants,
    start_make_run,
    stop_make_run,
)
from tests.support.processes import wait_until

pytestmark = pytest.mark.long(4)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_it_serves_healthz_on_the_embedded_default_and_stops_everything(tmp_path, stop_signal):
    run = start_make_run(tmp_path, FLOWER_BASIC_AUTH="ops:s3cret-pass")
    proc = run.proc
    try:
        body = requests.get(f"{run.url}/healthz", timeout=5).json()
        assert body["checks"]["database"]["vendor"] == "sqlite"
        assert (run.data_dir / "redis.sock").exists()
        with sqlite3.connect(run.data_dir / "regatta.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

        flower = run.flower_url
        assert requests.get(flower, timeout=5).status_code == 401
        assert requests.get(flower, auth=("ops", "s3cret-pass"), timeout=5).status_code == 200

        output = run.banner()
        # Not a terminal: the token is in a 0600 file and only its path is in the output.
        assert "An admin API token was created" in output and "rg_" not in output
        assert run.admin_token().startswith("rg_")
        assert (run.data_dir / "admin-token").stat().st_mode & 0o777 == 0o600
        assert f"{run.url}/healthz" in output
        assert f"{run.url}/_/releases/docs" in output
        assert flower in output
        assert str(run.data_dir) in output
        assert "s3cret-pass" not in output
        # Beat sends jobs.schedule every second; none of its INFO lines reach the log, while the
        # other tasks' lines do (orchestrator/logfilters.py).
        wait_until(lambda: "succeeded in" in run.output(), timeout=60, message="a task's line")
        log = run.output()
        assert "Sending due task jobs.schedule" not in log and "jobs.schedule[" not in log

        children = descendants(proc.pid)
        assert len(children) >= 5  # redis, web, worker, beat, flower (and their forks)
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(children), "processes left behind after the stop signal"
    finally:
        stop_make_run(run)


def assert_nothing_left(run: MakeRun, within: float = 60) -> None:
    """No process of the service (orphans included) and both ports free, once it settles."""
    deadline = time.monotonic() + within
    while (left := run.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left behind:\n{left}\n--- output ---\n{run.output()[-3000:]}"


def signal_burst(pgid: int, sig: int, seconds: float = 0.05) -> None:
    """Signal a process group again and again for `seconds` (thousands of times, back to back).

    A supervisor's stop (or a terminal's Ctrl-C) reaches make and the launcher at once, make
    forwards a SIGTERM of its own, an operator signals again: repeats within a few milliseconds,
    some landing while the launcher is on its way out.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        os.killpg(pgid, sig)


STOPS = {
    "sigterm-burst": lambda run: signal_burst(run.proc.pid, signal.SIGTERM),
    "ctrl-c-burst": lambda run: signal_burst(run.proc.pid, signal.SIGINT),
    # Closing the terminal window sends SIGHUP to the foreground job: make and the launcher.
    "terminal-hangup": lambda run: os.killpg(run.proc.pid, signal.SIGHUP),
    # SIGKILL cannot be handled: the kernel and the launcher's guard take its children down.
    "launcher-sigkill": lambda run: os.kill(run.launcher_pid(), signal.SIGKILL),
}


@pytest.mark.parametrize("stop", list(STOPS.values()), ids=list(STOPS))
def test_it_leaves_nothing_behind_however_make_run_is_stopped(tmp_path, stop):
    run = start_make_run(tmp_path, via_make=True)
    try:
        stop(run)
        run.proc.wait(timeout=90)  # make, once the launcher is gone
        assert_nothing_left(run)
    finally:
        stop_make_run(run)


def test_it_kills_a_stuck_child_at_a_later_second_signal(tmp_path):
    # Alice's web server hangs (frozen here with SIGSTOP, which only SIGKILL gets past); she
    # presses Ctrl-C, waits, and presses it again: the launcher stops waiting and kills.
    run = start_make_run(tmp_path)
    try:
        launcher = run.launcher_pid()
        web = next(p for p in descendants(launcher) if "gunicorn" in cmdline(p))
        os.killpg(os.getpgid(web), signal.SIGSTOP)
        os.killpg(run.proc.pid, signal.SIGINT)
        wait_until(lambda: "stopping Regatta" in run.output(), timeout=30, message="the stop")
        time.sleep(1.5)  # past the window in which a repeat counts as make's forwarded copy
        os.killpg(run.proc.pid, signal.SIGINT)
        run.proc.wait(timeout=90)
        assert "killing every process of Regatta" in run.output()
        assert_nothing_left(run)
    finally:
        stop_make_run(run)
