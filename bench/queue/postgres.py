"""bench/queue on PostgreSQL: the task tracker under the issue's load, against its floors.

1. Drain: 20,000 tasks, 16 client processes each doing get + release over HTTP against gunicorn
   with several processes on PostgreSQL, after ANALYZE. Floor: the same SQL by 16 psycopg2 clients.
2. Bulk: 100,000 tasks in one /task/bulk_submit against a direct COPY of the same rows.

Each phase prints its CPU-seconds per process group (bench/cpu.py: web = gunicorn master and
workers, PostgreSQL = every `postgres` process, Redis, the client processes, the bench itself)
and the drain its CPU per task. Ratios divide by the floor measured in the same run; the original
Go server sits at about 0.26 x the drain floor with this client (issue 11).

Environment: BENCH_DATABASE_URL (a scratch database, dropped and recreated), REDIS_URL,
BENCH_WEB_WORKERS (4), BENCH_CLIENTS (16), BENCH_TASKS (20000), BENCH_BULK_TASKS (100000).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2

from bench.cpu import Meter
from bench.queue.tracker import (
    actors,
    bulk_items,
    bulk_rows,
    bulk_submit,
    drain_phase,
    load,
    new_worker,
    print_bulk,
    print_drain,
    timed,
)
from bench.service import DEFAULT_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    dsn = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/regatta_bench"
    )
    return dict(
        os.environ,
        DATABASE_URL=dsn,
        REDIS_URL=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        DJANGO_SETTINGS_MODULE="orchestrator.settings",
        LOG_LEVEL="WARNING",
        # 17 workers are created from one address at once: past the per-address default.
        TRACKER_WORKER_CREATE_RATE="0",
    )


def _recreate_database(dsn: str) -> None:
    url = urlparse(dsn)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(urlunparse(url._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def _setup(env: dict[str, str]) -> None:
    _recreate_database(env["DATABASE_URL"])
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    import django

    os.environ.update(env)
    django.setup()


def _analyze(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ANALYZE tracker_task")
        cur.execute("ANALYZE tracker_workerverifiestask")
    conn.close()


def _remaining(dsn: str) -> int:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM tracker_task")
        count = cur.fetchone()[0]
    conn.close()
    return count


def _drain(url: str, env: dict, clients: int, tasks: int, meter: Meter) -> tuple[float, float]:
    from bench.queue.drain import drain_http, drain_sql

    dsn = env["DATABASE_URL"]
    worker, project, _ = actors(url, "drain")
    load(url, worker, project, tasks)
    _analyze(dsn)
    # One worker per client process, as a fleet of drones would be.
    workers = [new_worker(url) for _ in range(clients)]
    elapsed, closed = drain_phase(
        meter, "drain HTTP", drain_http, [(url, w["id"], w["secret"], project) for w in workers]
    )
    assert closed == tasks and _remaining(dsn) == 0, (closed, _remaining(dsn))
    http_rate = tasks / elapsed
    load(url, worker, project, tasks)
    _analyze(dsn)
    sql_args = [(dsn, w["id"], project) for w in workers]
    elapsed, closed = drain_phase(meter, "drain SQL floor", drain_sql, sql_args)
    assert closed == tasks and _remaining(dsn) == 0, (closed, _remaining(dsn))
    return http_rate, tasks / elapsed


def _bulk(url: str, env: dict, count: int, meter: Meter) -> tuple[float, float]:
    from domain.tracker.sql.common import NEW_TASK_COLUMNS
    from domain.tracker.sql.postgresql import copy_line

    dsn = env["DATABASE_URL"]
    worker, project, manager = actors(url, "bulk")
    items = bulk_items(project, count)
    payload = json.dumps({"requests": items}).encode()
    http_elapsed, inserted = timed(meter, "bulk HTTP", lambda: bulk_submit(url, worker, payload))
    assert inserted == count, inserted
    manager.post(f"{url}/project/hard_reset/{project}")
    rows = io.StringIO("".join(map(copy_line, bulk_rows(items))))
    conn = psycopg2.connect(dsn)

    def copy() -> int:
        with conn, conn.cursor() as cur:
            cur.copy_expert(f"COPY tracker_task ({NEW_TASK_COLUMNS}) FROM STDIN", rows)
            return cur.rowcount

    copy_elapsed, _ = timed(meter, "bulk floor", copy)
    conn.close()
    return count / http_elapsed, count / copy_elapsed


def run_postgres() -> None:
    env = _env()
    clients = int(os.environ.get("BENCH_CLIENTS", "16"))
    tasks = int(os.environ.get("BENCH_TASKS", "20000"))
    bulk = int(os.environ.get("BENCH_BULK_TASKS", "100000"))
    web_workers = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
    _setup(env)
    sys.path.insert(0, str(ROOT))
    from tests.support.processes import start_web

    web = start_web(env, Path(tempfile.mkdtemp(prefix="bench-queue-")), workers=web_workers)
    meter = Meter({"web": lambda: [web.popen.pid]})
    try:
        url = web.info["url"]
        drain_rates = _drain(url, env, clients, tasks, meter)
        bulk_rates = _bulk(url, env, bulk, meter)
    finally:
        web.stop()
    print("\n== bench.queue on postgres")
    server = f"{clients} clients, gunicorn --workers {web_workers}"
    print_drain(
        meter,
        tasks=tasks,
        server=server,
        rates=drain_rates,
        floor="direct SQL floor",
        db="postgres",
    )
    print_bulk(meter, count=bulk, rates=bulk_rates, floor="direct COPY")
