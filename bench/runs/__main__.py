"""`python -m bench.runs`: Flotilla runs on the local engine, against floors from the same run.

Each mode runs in a process of its own (`--mode postgres` or `--mode embedded`; default both):
  postgres  gunicorn (2 workers), one Celery worker on default+executions (prefork -c 2),
            PostgreSQL and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL, a scratch database)
  embedded  `deploy/run.py` with no DATABASE_URL/REDIS_URL: SQLite and the embedded Valkey,
            exactly what `make run` starts (web, worker, beat, Flower)
Measured, each printed with its ratio to its floor:
  1. PUT …/execute sent → the run's finished_at (the moment it is STOPPED, read through the v6
     status endpoint, polled every 20 ms) for `true`, p50/p95 over BENCH_SEQUENTIAL (200) runs
     one after another. Floor: fork+exec of `bash -c true` plus a
     no-op Celery round trip (`common.ping` through the same worker), medians.
  2. BENCH_THROUGHPUT (1,000) runs of `true` submitted at once with BENCH_SLOTS (8) slots:
     runs/s until the last is STOPPED. Floor: the same number of `bash -c true` forked
     8 at a time directly.
  3. A run printing 100,000 lines (10 MB): seconds from execute until its last line is readable
     through the logs endpoint. Floor: `cat` of the same file into a file.
Each phase prints CPU-seconds per process group (bench/cpu.py). The executions' supervisors
detach from the worker's process tree, so the worker runs inside a cpuacct cgroup of its own and
"runs" is that cgroup's CPU minus the worker tree's: the supervisors and the commands.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.service import DEFAULT_REDIS_URL, Service, run_modes, start_embedded, web_up  # noqa: E402

SEQUENTIAL = int(os.environ.get("BENCH_SEQUENTIAL", "200"))
THROUGHPUT = int(os.environ.get("BENCH_THROUGHPUT", "1000"))
SLOTS = int(os.environ.get("BENCH_SLOTS", "8"))
LOG_LINES = int(os.environ.get("BENCH_LOG_LINES", "100000"))
LINE = "x" * 99  # 100 bytes a line with its newline: 10 MB for 100,000 lines
# The client polls the slim status endpoint this often; the latency is read from the run's own
# finished_at (same machine, same clock), so polling faster would only load the server.
POLL = 0.02
DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/regatta_bench_runs"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _recreate_database() -> None:
    import psycopg2

    url = urlparse(DB_URL)
    admin = psycopg2.connect(urlunparse(url._replace(path="/postgres")))
    admin.autocommit = True
    name = url.path.lstrip("/")
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def _service(mode: str, logs: Path, data: Path) -> Service:
    from bench.cpu import CpuacctGroup

    env = dict(
        os.environ,
        EXECUTIONS_SLOTS=str(SLOTS),
        EXECUTIONS_HOST=f"bench-{mode}",
        LOG_LEVEL="WARNING",
    )
    group = CpuacctGroup(f"regatta-bench-runs-{uuid.uuid4().hex[:8]}")
    return Service(logs=logs, data=data, env=env, group=group)


def _start_postgres(service: Service) -> tuple[str, str]:
    from tests.support.processes import BIN, free_port, wait_until

    _recreate_database()
    service.env.update(DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=service.env,
        check=True,
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    service.spawn(
        "web",
        [
            str(BIN / "gunicorn"),
            "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
    )
    service.spawn(
        "worker",
        [
            str(BIN / "celery"),
            "-A",
            "orchestrator",
            "worker",
            "-Q",
            "default,executions",
            "-c",
            "2",
            "-n",
            f"bench-{uuid.uuid4().hex[:6]}@%h",
            "--loglevel",
            "WARNING",
        ],
        in_group=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: web_up(url), timeout=60, message="web up")
    token = subprocess.run(
        [sys.executable, "manage.py", "create_token", "--role", "admin", "--name", "bench"],
        cwd=ROOT,
        env=service.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    return url, token


def _ping_floor(service: Service, n: int = 50) -> list[float]:
    """A no-op Celery round trip through the service's own broker and worker."""
    code = (
        "import os, sys, time, django; sys.path.insert(0, os.getcwd()); django.setup();"
        "from orchestrator.tasks.common import ping;"
        "[ping.delay().get(timeout=30) for _ in range(5)];"
        f"out = []\nfor _ in range({n}):\n"
        "    t = time.perf_counter(); ping.delay().get(timeout=30); "
        "out.append(time.perf_counter() - t)\n"
        "print(' '.join(map(str, out)))"
    )
    env = dict(service.env, DJANGO_SETTINGS_MODULE="orchestrator.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return [float(x) for x in result.stdout.split()]


def _fork_floor(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["bash", "-c", "true"], check=True)
        out.append(time.perf_counter() - t)
    return out


class Client:
    def __init__(self, url: str, token: str) -> None:
        import requests

        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def definition(self, command: str) -> str:
        body = {
            "group_name": "bench",
            "alias": f"bench-{uuid.uuid4().hex[:10]}",
            "image": "local",
            "command": command,
            "memory": 512,
        }
        resp = self.session.post(f"{self.url}/api/v1/task", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json()["definition_id"]

    def execute(self, definition_id: str) -> str:
        resp = self.session.put(
            f"{self.url}/api/v6/task/{definition_id}/execute",
            json={"cluster": "default", "run_tags": {"owner_id": "bench"}},
            timeout=60,
        )
        resp.raise_for_status()
        return resp.json()["run_id"]

    def status(self, run_id: str) -> dict:
        resp = self.session.get(f"{self.url}/api/v6/{run_id}/status", timeout=30)
        resp.raise_for_status()
        return resp.json()

    def wait_stopped(self, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.status(run_id)
            if body["status"] == "STOPPED":
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} not STOPPED after {timeout} s: {body}")
            time.sleep(POLL)

    def stopped_count(self, definition_id: str) -> int:
        resp = self.session.get(
            f"{self.url}/api/v1/task/{definition_id}/history",
            params={"status": "STOPPED", "limit": 1},
            timeout=60,
        )
        resp.raise_for_status()
        return resp.json()["total"]

    def log_after(self, run_id: str, last_seen: str) -> dict:
        resp = self.session.get(
            f"{self.url}/api/v1/{run_id}/logs", params={"last_seen": last_seen}, timeout=60
        )
        resp.raise_for_status()
        return resp.json()


def run_mode(mode: str) -> None:
    from bench.cpu import Meter

    logs = Path(tempfile.mkdtemp(prefix=f"bench-runs-{mode}-"))
    data = Path(tempfile.mkdtemp(prefix=f"bench-runs-{mode}-data-"))
    service = _service(mode, logs, data)
    if mode == "postgres":
        os.environ.update(DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL)
    try:
        url, token = (_start_postgres if mode == "postgres" else start_embedded)(service)
        client = Client(url, token)
        meter = _meter(service, mode)
        print(f"\n== bench.runs on {mode} ({SLOTS} slots; logs in {logs})")

        def cpu(name: str, ops: int | None = None, what: str = "run") -> None:
            spent = meter.phases[name]
            line = f"    {Meter.format(spent)}"
            if ops:
                per = {k: v / ops * 1000 for k, v in spent.items() if k != "wall"}
                line += (
                    "\n    ms CPU per "
                    + what
                    + ": "
                    + " ".join(f"{k} {v:.2f}" for k, v in per.items())
                )
            print(line)

        fork = _fork_floor(SEQUENTIAL)
        ping = _ping_floor(service)
        floor = statistics.median(fork) + statistics.median(ping)
        print(
            f"floor 1: fork+exec bash -c true p50 {statistics.median(fork) * 1000:.1f} ms + "
            f"no-op Celery round trip p50 {statistics.median(ping) * 1000:.1f} ms = "
            f"{floor * 1000:.1f} ms"
        )

        # --- 1. execute -> STOPPED, one at a time ----------------------------------------
        true_def = client.definition("true")
        for _ in range(5):
            client.wait_stopped(client.execute(true_def))
        latencies = []
        meter.start()
        for _ in range(SEQUENTIAL):
            t = time.time()
            body = client.wait_stopped(client.execute(true_def))
            finished = datetime.fromisoformat(body["finished_at"].replace("Z", "+00:00"))
            latencies.append(finished.timestamp() - t)
            assert body["exit_code"] == 0, body
        meter.phase("sequential")
        p50, p95 = pct(latencies, 50), pct(latencies, 95)
        print(
            f"1. execute -> STOPPED (true)  p50 {p50 * 1000:.1f} ms  p95 {p95 * 1000:.1f} ms  "
            f"ratio p50/floor {p50 / floor:.2f}  (n={SEQUENTIAL}; target p50 <= 100 ms)"
        )
        cpu("sequential", SEQUENTIAL)

        # --- 2. throughput --------------------------------------------------------------------
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: subprocess.run(["bash", "-c", "true"]), range(THROUGHPUT)))
        floor2 = THROUGHPUT / (time.perf_counter() - t)
        burst_def = client.definition("true")
        meter.start()
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: client.execute(burst_def), range(THROUGHPUT)))
        submitted = time.perf_counter() - t
        while client.stopped_count(burst_def) < THROUGHPUT:
            time.sleep(0.2)
        elapsed = time.perf_counter() - t
        meter.phase("throughput")
        rate = THROUGHPUT / elapsed
        print(
            f"2. {THROUGHPUT} runs of true, {SLOTS} slots: {rate:.1f} runs/s "
            f"(all submitted in {submitted:.1f} s, all STOPPED in {elapsed:.1f} s); floor "
            f"{floor2:.1f} bash -c true/s 8 at a time; ratio {rate / floor2:.3f}"
        )
        cpu("throughput", THROUGHPUT)

        # --- 3. log ingest -------------------------------------------------------------------
        source = data / "lines.txt"
        source.write_text((LINE + "\n") * LOG_LINES)
        t = time.perf_counter()
        with open(data / "copy.txt", "wb") as copy:
            subprocess.run(["cat", str(source)], stdout=copy, check=True)
        floor3 = time.perf_counter() - t
        log_def = client.definition(f"yes {LINE} | head -n {LOG_LINES}")
        meter.start()
        t = time.perf_counter()
        run_id = client.execute(log_def)
        # The log holds the `+ yes …`/`+ head …` trace lines first, then the output.
        last = str(LOG_LINES)
        while True:
            body = client.log_after(run_id, last)
            if LINE in body["log"] or body["last_seen"] not in ("", last):
                break
            time.sleep(0.05)
        ingest = time.perf_counter() - t
        meter.phase("logs")
        print(
            f"3. {LOG_LINES} lines ({source.stat().st_size / 1e6:.1f} MB): last line readable "
            f"after {ingest:.2f} s; floor cat {floor3 * 1000:.1f} ms; ratio {ingest / floor3:.0f}"
        )
        cpu("logs", LOG_LINES // 1000, "1,000 lines")
    finally:
        service.stop()


def _meter(service: Service, mode: str):
    from bench.cpu import Meter

    trees = {
        ("web" if mode == "postgres" else "regatta (web, worker, beat, flower)"): (
            lambda: [service.procs[0].pid]
        )
    }
    if mode == "postgres":
        trees["celery worker"] = lambda: [service.procs[1].pid]
    grouped = "celery worker" if mode == "postgres" else "regatta (web, worker, beat, flower)"

    def runs(readings: dict[str, float]) -> float:
        return service.group.seconds() - readings[grouped]

    return Meter(trees, counters={"runs (supervisors + commands)": runs})


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")
    run_modes("bench.runs", {mode: partial(run_mode, mode) for mode in ("postgres", "embedded")})


if __name__ == "__main__":
    main()
