"""On the embedded SQLite default a web worker keeps its database connection between requests,
and a Celery process (which forks) does not. Observed from outside, on real processes: a kept
connection is an open file descriptor on the database file after the answer has gone out."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests

from tests.support.processes import BIN, ROOT, start_web, wait_until

DATABASE_ENV = ("DATABASE_URL", "REGATTA_WEB_PROCESS")


def _embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_ENV}
    env.update(REGATTA_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return env


def _open_on(pid: int, path: Path) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except FileNotFoundError:
            continue  # closed while we looked
    return False


def _web_worker(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_a_web_worker_keeps_its_sqlite_connection_between_requests(tmp_path):
    env = _embedded_env(tmp_path)
    migrate = [str(BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, timeout=300)
    web = start_web(env, tmp_path, workers=1)
    try:
        database = tmp_path / "regatta.sqlite3"
        worker = _web_worker(web.popen.pid)
        # The list of releases is read from the database, so this request opens a connection.
        assert requests.get(web.info["url"] + "/releases", timeout=30).status_code == 200
        wait_until(lambda: _open_on(worker, database), timeout=5, message="a kept connection")
        assert requests.get(web.info["url"] + "/releases", timeout=30).status_code == 200
        assert _open_on(worker, database)
    finally:
        web.stop()


def test_only_a_web_process_keeps_a_sqlite_connection(tmp_path):
    read = "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    argv = [str(BIN / "python"), "-c", f"import django; django.setup(); {read}"]
    env = {**_embedded_env(tmp_path), "DJANGO_SETTINGS_MODULE": "orchestrator.settings"}
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
    web = subprocess.run(
        argv, cwd=ROOT, env={**env, "REGATTA_WEB_PROCESS": "1"}, capture_output=True, text=True
    )
    assert web.stdout.strip() == "60"
