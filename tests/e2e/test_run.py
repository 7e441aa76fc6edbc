"""deploy/run.py (what `make run` starts): the whole service on the embedded default."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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


def test_it_serves_healthz_on_the_embedded_default_and_stops_everything_on_sigterm(tmp_path):
    port, flower_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        REGATTA_DATA_DIR=str(tmp_path / "var"),
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

        flower = f"http://127.0.0.1:{flower_port}/"
        assert requests.get(flower, timeout=5).status_code == 401
        assert requests.get(flower, auth=("ops", "s3cret-pass"), timeout=5).status_code == 200

        output = (tmp_path / "run.log").read_text()
        assert "An admin API token was created" in output and "rg_" in output
        assert "s3cret-pass" not in output

        children = _descendants(proc.pid)
        assert len(children) >= 5  # redis, web, worker, beat, flower (and their forks)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(children), "processes left behind after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
