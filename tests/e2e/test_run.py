"""deploy/run.py (what `make run` starts): the whole service on the embedded default."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest
import requests

from tests.support.make_run import alive, descendants, start_make_run, stop_make_run


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
