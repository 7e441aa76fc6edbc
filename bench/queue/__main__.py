"""`python -m bench.queue`: the task tracker under the issue's load, against floors from the run.

Each mode runs in a process of its own (`--mode postgres` or `--mode embedded`; default both):
  postgres  gunicorn on PostgreSQL against the same SQL by psycopg2 clients and a direct COPY
            (bench/queue/postgres.py)
  embedded  `deploy/run.py` with no DATABASE_URL/REDIS_URL (SQLite + embedded Valkey, what
            `make run` starts) against the same SQLite statements by sqlite3 clients and a
            direct executemany (bench/queue/embedded.py)

Environment: BENCH_CLIENTS (16), BENCH_TASKS (20000), BENCH_BULK_TASKS (100000); on postgres also
BENCH_DATABASE_URL, REDIS_URL, BENCH_WEB_WORKERS (4); on embedded WEB_CONCURRENCY (make run's, 2).
"""

from __future__ import annotations

from bench.queue.embedded import run_embedded
from bench.queue.postgres import run_postgres
from bench.service import run_modes


def main() -> None:
    run_modes("bench.queue", {"postgres": run_postgres, "embedded": run_embedded})


if __name__ == "__main__":
    main()
