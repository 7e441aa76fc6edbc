"""bench/queue on the embedded default: `deploy/run.py` (SQLite + embedded Valkey), as `make run`.

1. Drain: BENCH_TASKS tasks, BENCH_CLIENTS client processes doing get + release over HTTP against
   make run's web (gunicorn, WEB_CONCURRENCY workers, 2 by default) on SQLite. Floor: the same
   statements the tracker's SQLite dialect runs, by as many sqlite3 client processes on a copy of
   the database file taken before the drain (same tasks, workers, pragmas).
2. Bulk: BENCH_BULK_TASKS tasks in one /task/bulk_submit against one executemany of the same
   INSERT in one transaction on a copy taken just before it.

The service runs on a fresh data directory, removed afterwards; its logs stay in a temporary
directory. CPU groups: web (gunicorn), `worker, beat, flower` (make run's other children),
redis (the embedded Valkey), the clients, the bench.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from bench.cpu import Meter, children
from bench.queue.sqlite_floor import drain_sqlite, insert_sqlite
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
from bench.service import SERVER_URLS, Service, start_embedded


def _service_database(env: dict[str, str]) -> tuple[str, list[str]]:
    """The service's database file and the pragmas its settings run on each connection."""
    import django
    from django.conf import settings

    for name in SERVER_URLS:
        os.environ.pop(name, None)
    os.environ.update(env, DJANGO_SETTINGS_MODULE="orchestrator.settings")
    django.setup()
    db = settings.DATABASES["default"]
    pragmas = [p.strip() for p in db["OPTIONS"]["init_command"].split(";") if p.strip()]
    return str(db["NAME"]), pragmas


def _snapshot(source: str, target: str) -> None:
    """A consistent copy of the live database (sqlite3's online backup)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()


def _remaining(path: str) -> int:
    conn = sqlite3.connect(path)
    count = conn.execute("SELECT count(*) FROM tracker_task").fetchone()[0]
    conn.close()
    return count


def _meter(service: Service) -> Meter:
    launcher = service.procs[0].pid

    def web() -> list[int]:
        return [pid for pid, argv in children(launcher) if "gunicorn" in argv]

    def rest() -> list[int]:
        # Valkey is its own group (by comm, bench/cpu.py).
        return [
            pid
            for pid, argv in children(launcher)
            if "gunicorn" not in argv and "server" not in argv.split(" ")[0]
        ]

    return Meter({"web": web, "worker, beat, flower": rest}, servers=("redis",))


def _drain(
    url: str, db: tuple[str, list[str]], scratch: Path, counts: tuple[int, int], meter: Meter
) -> tuple[float, float]:
    from bench.queue.drain import drain_http

    (path, pragmas), (clients, tasks) = db, counts
    worker, project, _ = actors(url, "drain")
    load(url, worker, project, tasks)
    workers = [new_worker(url) for _ in range(clients)]
    floor_db = str(scratch / "drain-floor.sqlite3")
    _snapshot(path, floor_db)
    elapsed, closed = drain_phase(
        meter, "drain HTTP", drain_http, [(url, w["id"], w["secret"], project) for w in workers]
    )
    assert closed == tasks and _remaining(path) == 0, (closed, _remaining(path))
    http_rate = tasks / elapsed
    floor_args = [(floor_db, pragmas, w["id"], project) for w in workers]
    elapsed, closed = drain_phase(meter, "drain SQL floor", drain_sqlite, floor_args)
    assert closed == tasks and _remaining(floor_db) == 0, (closed, _remaining(floor_db))
    return http_rate, tasks / elapsed


def _bulk(
    url: str, db: tuple[str, list[str]], scratch: Path, count: int, meter: Meter
) -> tuple[float, float]:
    path, pragmas = db
    worker, project, _ = actors(url, "bulk")
    items = bulk_items(project, count)
    payload = json.dumps({"requests": items}).encode()
    floor_db = str(scratch / "bulk-floor.sqlite3")
    _snapshot(path, floor_db)
    http_elapsed, inserted = timed(meter, "bulk HTTP", lambda: bulk_submit(url, worker, payload))
    assert inserted == count, inserted
    rows = list(bulk_rows(items))
    floor_elapsed, inserted = timed(
        meter, "bulk floor", lambda: insert_sqlite(floor_db, pragmas, rows)
    )
    assert inserted == count, inserted
    return count / http_elapsed, count / floor_elapsed


def run_embedded() -> None:
    clients = int(os.environ.get("BENCH_CLIENTS", "16"))
    tasks = int(os.environ.get("BENCH_TASKS", "20000"))
    bulk = int(os.environ.get("BENCH_BULK_TASKS", "100000"))
    logs = Path(tempfile.mkdtemp(prefix="bench-queue-embedded-"))
    data = Path(tempfile.mkdtemp(prefix="bench-queue-embedded-data-"))
    # 17 workers are created from one address at once: past the per-address default.
    env = dict(os.environ, LOG_LEVEL="WARNING", TRACKER_WORKER_CREATE_RATE="0")
    service = Service(logs=logs, data=data, env=env)
    try:
        url, _ = start_embedded(service)
        db = _service_database(service.env)
        meter = _meter(service)
        drain_rates = _drain(url, db, data, (clients, tasks), meter)
        bulk_rates = _bulk(url, db, data, bulk, meter)
    finally:
        service.stop()
        shutil.rmtree(data, ignore_errors=True)
    web_workers = service.env.get("WEB_CONCURRENCY", "2")
    print(f"\n== bench.queue on the embedded default (SQLite + Valkey; logs in {logs})")
    server = f"{clients} clients, make run's gunicorn --workers {web_workers} on SQLite"
    print_drain(
        meter, tasks=tasks, server=server, rates=drain_rates, floor="sqlite3 floor", db=None
    )
    print_bulk(meter, count=bulk, rates=bulk_rates, floor="sqlite3 executemany")
