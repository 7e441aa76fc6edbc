"""`python -m bench.releases`: release coordination latencies against a floor from the same run.

Load (issue 3): 20 stand-in task services that answer at once, 50 releases created together.
Measured, each as p50/p95 and as a ratio to the floor (a no-op Celery round trip, `common.ping`):
  1. POST /releases → every task of the release started (the service received `start`);
  2. last `staged` report (PATCH) → release `staged` as read through the API, quiet and in a burst;
  3. POST …/publish → release `published` (services PATCH `published` as soon as asked); the
     release completes inside the last PATCH's transaction, so that PATCH's answer is the moment
     the API shows it `published` (checked once per release; polling every release through the
     API during the burst would itself load the web server);
  4. poll mode: the service turns `staged` in its own store → release `staged` via the API.

Everything runs for real: gunicorn, Celery workers (a prefork worker on `default` -c 2 and one
on `outbound` -c 4), beat, PostgreSQL and Redis. Defaults use their own database and Redis db:
BENCH_DATABASE_URL (postgres://postgres:postgres@127.0.0.1:5432/regatta_bench_releases) and
BENCH_REDIS_URL (redis://127.0.0.1:6379/15). Knobs: BENCH_RELEASES (50), BENCH_SERVICES (20),
BENCH_POLL_INTERVAL (2 s), BENCH_OUTBOUND_POOL (prefork; or threads), BENCH_OUTBOUND_PROCS (4),
BENCH_OUTBOUND_THREADS (32, threads pool), BENCH_WEB_WORKERS (3).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/regatta_bench_releases"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.update(DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL)
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.pop("CELERY_RESULT_BACKEND", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")
# The stand-in services listen on loopback, which the outbound address policy refuses by default.
os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
sys.path.insert(0, str(ROOT))

N_RELEASES = int(os.environ.get("BENCH_RELEASES", "50"))
N_SERVICES = int(os.environ.get("BENCH_SERVICES", "20"))
POLL_INTERVAL = float(os.environ.get("BENCH_POLL_INTERVAL", "2"))
OUTBOUND_THREADS = int(os.environ.get("BENCH_OUTBOUND_THREADS", "32"))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "3"))
OUTBOUND_POOL = os.environ.get("BENCH_OUTBOUND_POOL", "prefork")
OUTBOUND_PROCS = int(os.environ.get("BENCH_OUTBOUND_PROCS", "4"))


def _ensure_database() -> None:
    import psycopg2

    url = urlparse(DB_URL)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(urlunparse(url._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone():
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Report:
    def __init__(self, floor: list[float]) -> None:
        self.floor = statistics.median(floor)
        print(
            f"floor: no-op Celery round trip  p50 {self.floor * 1000:8.1f} ms  "
            f"p95 {pct(floor, 95) * 1000:8.1f} ms  (n={len(floor)})"
        )

    def line(self, label: str, values: list[float]) -> None:
        p50, p95 = pct(values, 50), pct(values, 95)
        print(
            f"{label:<46} p50 {p50 * 1000:9.1f} ms  p95 {p95 * 1000:9.1f} ms  "
            f"ratio p50/floor {p50 / self.floor:8.1f}  (n={len(values)})"
        )


def main() -> None:  # noqa: C901 — one linear script reads best here
    _ensure_database()
    import django

    django.setup()
    import redis
    import requests

    from domain.common.tokens import token_create
    from domain.releases.models import Release, Study
    from orchestrator.tasks.common import ping
    from tests.support.processes import BIN, _spawn, child_env, start_web, start_worker, wait_until
    from tests.support.task_service import TaskServiceStandIn

    redis.Redis.from_url(REDIS_URL).flushdb()
    logs = Path(tempfile.mkdtemp(prefix="bench-releases-"))
    data = Path(tempfile.mkdtemp(prefix="bench-releases-data-"))
    # Production defaults (10 s polls, 15 s timeout) for the push phases; phase 4 restarts beat
    # with BENCH_POLL_INTERVAL.
    env = child_env(
        DB_URL,
        REDIS_URL=REDIS_URL,
        REGATTA_DATA_DIR=str(data),
        OUTBOUND_TIMEOUT="15",
        RELEASES_RETRY_BACKOFF="1",
        LOG_LEVEL="WARNING",
    )
    procs = [
        start_web(env, logs, workers=WEB_WORKERS),
        start_worker(env, logs, queues="default", concurrency=2, name="bench-default"),
        start_worker(
            env,
            logs,
            queues="outbound",
            concurrency=OUTBOUND_THREADS if OUTBOUND_POOL == "threads" else OUTBOUND_PROCS,
            name="bench-out",
            pool=OUTBOUND_POOL,
        ),
    ]

    def start_beat(name: str, **extra: str):
        argv = [str(BIN / "celery"), "-A", "orchestrator", "beat", "--loglevel", "WARNING"]
        proc = _spawn(name, argv, {**env, **extra}, logs)
        procs.append(proc)
        return proc

    beat = start_beat("bench-beat")
    web = procs[0].info["url"]
    admin = token_create(role="admin", name="bench").plaintext
    auth = {"Authorization": f"Bearer {admin}"}
    session = requests.Session()
    Study.objects.create(kf_id="SD_BENCH000", name="bench")
    standins: list[TaskServiceStandIn] = []
    print(
        f"bench.releases: {N_RELEASES} releases x {N_SERVICES} services; web {WEB_WORKERS} "
        f"gunicorn workers, worker default prefork -c 2, outbound {OUTBOUND_POOL} -c "
        f"{OUTBOUND_THREADS if OUTBOUND_POOL == 'threads' else OUTBOUND_PROCS}; "
        f"logs in {logs}"
    )
    try:
        # --- floor ----------------------------------------------------------------------------
        for _ in range(5):
            ping.delay().get(timeout=30)
        floor = []
        for _ in range(50):
            t = time.perf_counter()
            ping.delay().get(timeout=30)
            floor.append(time.perf_counter() - t)
        report = Report(floor)

        def register(svc: TaskServiceStandIn) -> str:
            body = {"name": svc.name, "author": "bench", "url": svc.url}
            resp = session.post(f"{web}/task-services", json=body, headers=auth, timeout=30)
            resp.raise_for_status()
            svc.coordinator_url, svc.token = web, resp.json()["inbound_token"]
            return resp.json()["kf_id"]

        push = [
            TaskServiceStandIn(
                mode="manual", name=f"push {i}", push_actions={"publish"}, patch_timeout=600
            )
            for i in range(N_SERVICES)
        ]
        standins += push
        push_ids = [register(s) for s in push]

        def create(i: int) -> tuple[str, float]:
            t = time.time()
            resp = requests.post(
                f"{web}/releases",
                json={"name": f"bench {i}", "studies": ["SD_BENCH000"]},
                headers=auth,
                timeout=120,
            )
            resp.raise_for_status()
            return resp.json()["kf_id"], t

        def starts() -> dict[str, list[float]]:
            by_release: dict[str, list[float]] = {}
            for svc in push:
                for call in svc.actions("start"):
                    by_release.setdefault(call.body["release_id"], []).append(call.at)
            return by_release

        # --- 1. POST → every task started, 50 releases together -----------------------------
        with ThreadPoolExecutor(max_workers=N_RELEASES) as pool:
            created = list(pool.map(create, range(N_RELEASES)))
        wait_until(
            lambda: sum(len(v) for v in starts().values()) >= N_RELEASES * N_SERVICES,
            timeout=600,
            interval=0.2,
            message="every task started",
        )
        started = starts()
        report.line(
            "POST -> every task started (burst)",
            [max(started[kf]) - t0 for kf, t0 in created],
        )

        # --- 2. last staged report → staged via the API -------------------------------------
        tasks_of: dict[str, list[tuple[TaskServiceStandIn, str]]] = {}
        for svc in push:
            for call in svc.actions("start"):
                tasks_of.setdefault(call.body["release_id"], []).append((svc, call.body["task_id"]))
        # Wait until every start is acknowledged so reports are never early.
        wait_until(
            lambda: not Release.objects.filter(tasks__pending_action="start").exists(),
            timeout=120,
            message="starts acknowledged",
        )

        def stage(kf_id: str) -> float:
            pairs = tasks_of[kf_id]
            for svc, tid in pairs[:-1]:
                svc.patch(tid, {"state": "staged", "progress": 100}, kf_id)
            svc, tid = pairs[-1]
            t = time.perf_counter()
            svc.patch(tid, {"state": "staged", "progress": 100}, kf_id)
            while requests.get(f"{web}/releases/{kf_id}", timeout=120).json()["state"] != "staged":
                time.sleep(0.005)
            return time.perf_counter() - t

        ids = [kf for kf, _ in created]
        quiet_ids, burst_ids = ids[:10], ids[10:]
        report.line("last staged PATCH -> staged via API (quiet)", [stage(k) for k in quiet_ids])
        with ThreadPoolExecutor(max_workers=len(burst_ids)) as pool:
            burst = list(pool.map(stage, burst_ids))
        report.line("last staged PATCH -> staged via API (burst)", burst)

        # --- 3. publish → published ----------------------------------------------------------
        def published_at(kf_id: str) -> float | None:
            # The release completes inside the last `published` PATCH, so that PATCH's answer
            # is the moment it is published; the API confirms it below.
            done = [r[5] for s in push for r in s.push_log if r[1] == kf_id and r[2] == "published"]
            return max(done) if len(done) == N_SERVICES else None

        def publish(kf_id: str) -> float:
            t = time.time()
            resp = requests.post(f"{web}/releases/{kf_id}/publish", headers=auth, timeout=120)
            resp.raise_for_status()
            wait_until(lambda: published_at(kf_id), timeout=300, interval=0.01)
            state = requests.get(f"{web}/releases/{kf_id}", timeout=120).json()["state"]
            assert state == "published", (kf_id, state)
            return published_at(kf_id) - t

        report.line("publish -> published (one at a time)", [publish(k) for k in ids[:5]])
        with ThreadPoolExecutor(max_workers=len(ids) - 5) as pool:
            report.line("publish -> published (45 together)", list(pool.map(publish, ids[5:])))
        bad = sum(1 for s in push for r in s.push_log if r[3] >= 300)
        print(f"push PATCHes answered non-2xx: {bad}")

        # --- 4. poll mode --------------------------------------------------------------------
        # Beat and the worker that schedules each task's first poll both get the interval.
        poll_env = {"RELEASES_TASK_POLL_INTERVAL": str(POLL_INTERVAL)}
        beat.stop()
        procs[1].stop()
        procs[1] = start_worker(
            {**env, **poll_env}, logs, queues="default", concurrency=2, name="bench-default-poll"
        )
        start_beat("bench-beat-poll", **poll_env)
        for sid in push_ids:
            session.patch(f"{web}/task-services/{sid}", json={"enabled": False}, headers=auth)
        polled = [TaskServiceStandIn(mode="poll", name=f"poll {i}") for i in range(N_SERVICES)]
        standins += polled
        for svc in polled:
            register(svc)
        n_poll = 5
        with ThreadPoolExecutor(max_workers=n_poll) as pool:
            poll_created = list(pool.map(create, range(n_poll)))
        seen: dict[str, float] = {}

        def all_seen() -> bool:
            for kf_id, _ in poll_created:
                if kf_id not in seen:
                    state = requests.get(f"{web}/releases/{kf_id}", timeout=120).json()["state"]
                    if state == "staged":
                        seen[kf_id] = time.time()
            return len(seen) == n_poll

        wait_until(all_seen, timeout=300, interval=0.02, message="poll-mode releases staged")
        lags = []
        for kf_id, _ in poll_created:
            turned = [
                at
                for svc in polled
                for (tid, state), at in svc.turned_at.items()
                if state == "staged"
                and any(
                    c.body["task_id"] == tid and c.body["release_id"] == kf_id
                    for c in svc.actions("start")
                )
            ]
            lags.append(seen[kf_id] - max(turned))
        report.line(f"poll: service staged -> staged via API ({POLL_INTERVAL:g} s poll)", lags)
    finally:
        for svc in standins:
            svc.stop()
        for proc in reversed(procs):
            proc.stop()


if __name__ == "__main__":
    main()
