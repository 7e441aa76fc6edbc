"""The service under a bench, started as `make run` starts it: shared by bench/runs and bench/queue.

`Service` spawns the processes (each leading its own session, so a stop reaches its forks) with
their output in a log directory, and stops them all. `start_embedded` starts `deploy/run.py` with
no DATABASE_URL/REDIS_URL: SQLite in the service's data directory and the embedded Valkey, web,
worker, beat and Flower, exactly what a user of `make run` gets.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.cpu import CpuacctGroup

ROOT = Path(__file__).resolve().parents[1]
# Unset for the embedded default: any of them would point `make run` at a server.
SERVER_URLS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


# The benches' Redis db when BENCH_REDIS_URL (bench/queue: REDIS_URL) is not set: below the test
# suite's dbs (4-15, tests/support/env_defaults.py), so a bench beside `make test` takes none of
# its messages.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"


class Service:
    """The running service under test: its processes, their logs and its data directory."""

    def __init__(
        self, *, logs: Path, data: Path, env: dict[str, str], group: CpuacctGroup | None = None
    ) -> None:
        self.logs = logs
        self.data = data
        self.group = group
        self.procs: list[subprocess.Popen] = []
        self.env = dict(env, REGATTA_DATA_DIR=str(data), PYTHONUNBUFFERED="1")

    def spawn(self, name: str, argv: list[str], *, in_group: bool = False) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (the child owns it)
        group = self.group

        def join() -> None:
            group.add(os.getpid())

        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=join if in_group and group else None,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.group is not None:
            self.group.remove()


def web_up(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_embedded(service: Service) -> tuple[str, str]:
    """`deploy/run.py` on the service's data directory; returns its URL and admin token.

    The launcher joins the service's cpuacct group (when it has one) with everything it starts.
    """
    from tests.support.processes import free_port, wait_until

    for name in SERVER_URLS:
        service.env.pop(name, None)
    port = free_port()
    service.env.update(PORT=str(port), FLOWER_PORT=str(free_port()))
    service.spawn("make-run", [sys.executable, "deploy/run.py"], in_group=True)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: web_up(url), timeout=180, message="make run's web up")
    token_file = service.data / "admin-token"
    wait_until(token_file.exists, timeout=30, message="admin token file")
    return url, token_file.read_text().strip()


def run_modes(prog: str, run: dict[str, Callable[[], None]]) -> None:
    """`--mode <one of run>` runs that mode here; `both` (the default) runs each mode in a
    process of its own (`python -m <prog> --mode …`), so one's imports and settings never leak
    into the other's."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("--mode", choices=(*run, "both"), default="both")
    args = parser.parse_args()
    if args.mode != "both":
        run[args.mode]()
        return
    for mode in run:
        subprocess.run([sys.executable, "-m", prog, "--mode", mode], check=True)
