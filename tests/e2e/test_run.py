"""deploy/run.py (what `make run` starts): the whole service on the embedded default."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from tests.support.processes import ROOT, free_port, wait_until


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid="], capture_output=True, text=True)
    rows = [tuple(map(int, line.split())) for line in out.stdout.splitlines() if line.strip()]
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp, _ in rows if pp in frontier} - found
        found |= children
        frontier = children
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.add(pid)
        except ProcessLookupError:
            pass
    return alive


def _fresh_env(tmp_path, **extra: str) -> dict[str, str]:
    """What a newcomer's shell has: no database, no Redis, none of the suite's own settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(REGATTA_DATA_DIR=str(tmp_path / "var"), **extra)
    return env


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_it_serves_healthz_on_the_embedded_default_and_stops_everything(tmp_path, stop_signal):
    port, flower_port = free_port(), free_port()
    env = _fresh_env(
        tmp_path,
        PORT=str(port),
        FLOWER_PORT=str(flower_port),
        FLOWER_BASIC_AUTH="ops:s3cret-pass",
    )
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "deploy/run.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=120, interval=0.5, message="make run to become healthy")
        body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert body["checks"]["database"]["vendor"] == "sqlite"
        assert (tmp_path / "var" / "redis.sock").exists()
        with sqlite3.connect(tmp_path / "var" / "regatta.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

        flower = f"http://127.0.0.1:{flower_port}/"
        assert requests.get(flower, timeout=5).status_code == 401
        assert requests.get(flower, auth=("ops", "s3cret-pass"), timeout=5).status_code == 200

        output = wait_until(
            lambda: "Regatta is up." in (text := (tmp_path / "run.log").read_text()) and text,
            timeout=10,
            message="the banner",
        )
        assert "An admin API token was created" in output and "rg_" in output
        assert f"http://127.0.0.1:{port}/healthz" in output
        assert f"http://127.0.0.1:{port}/_/releases/docs" in output
        assert f"http://127.0.0.1:{flower_port}/" in output
        assert str(tmp_path / "var") in output
        assert "s3cret-pass" not in output

        children = _descendants(proc.pid)
        assert len(children) >= 5  # redis, web, worker, beat, flower (and their forks)
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(children), "processes left behind after the stop signal"
    finally:
        if proc.poll() is None:
            proc.kill()
