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

Each measured phase also prints its CPU-seconds per process group (bench/cpu.py: web, the two
Celery workers, beat, the stand-ins, PostgreSQL, Redis, other bench children, the bench itself)
and the publish burst its CPU per operation (web ms per task report, outbound ms per call). The
stand-ins run in processes of their own (bench/releases/standins.py) and report each action,
PATCH and state change as an event on a queue, so the harness itself costs little and is printed.

Everything runs for real: gunicorn, Celery workers (a prefork worker on `default` -c 2 and one
on `outbound` -c 4), beat, PostgreSQL and Redis. Defaults use their own database and Redis db:
BENCH_DATABASE_URL (postgres://postgres:postgres@127.0.0.1:5432/regatta_bench_releases) and
BENCH_REDIS_URL (redis://127.0.0.1:6379/3). Knobs: BENCH_RELEASES (50), BENCH_SERVICES (20),
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

from bench.service import DEFAULT_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/regatta_bench_releases"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
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

    from bench.cpu import Meter
    from bench.releases.standins import Fleet, Remote
    from domain.common.tokens import token_create
    from domain.releases.models import Release, Study
    from orchestrator.tasks.common import ping
    from tests.support.processes import BIN, _spawn, child_env, start_web, start_worker

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

    def default_worker(name: str, **extra: str):
        return start_worker({**env, **extra}, logs, queues="default", concurrency=2, name=name)

    def outbound_worker(name: str, **extra: str):
        concurrency = OUTBOUND_THREADS if OUTBOUND_POOL == "threads" else OUTBOUND_PROCS
        return start_worker(
            {**env, **extra},
            logs,
            queues="outbound",
            concurrency=concurrency,
            name=name,
            pool=OUTBOUND_POOL,
        )

    procs = [
        start_web(env, logs, workers=WEB_WORKERS),
        default_worker("bench-default"),
        outbound_worker("bench-out"),
    ]

    def start_beat(name: str, **extra: str):
        argv = [str(BIN / "celery"), "-A", "orchestrator", "beat", "--loglevel", "WARNING"]
        proc = _spawn(name, argv, {**env, **extra}, logs)
        procs.append(proc)
        return proc

    beat = start_beat("bench-beat")
    fleet = Fleet()
    meter = Meter(
        {
            "web": lambda: [procs[0].popen.pid],
            "celery default": lambda: [procs[1].popen.pid],
            "celery outbound": lambda: [procs[2].popen.pid],
            "beat": lambda: [p.popen.pid for p in procs[3:] if p.alive()],
            "stand-ins": fleet.pids,
        }
    )
    web = procs[0].info["url"]
    admin = token_create(role="admin", name="bench").plaintext
    auth = {"Authorization": f"Bearer {admin}"}
    session = requests.Session()
    Study.objects.create(kf_id="SD_BENCH000", name="bench")
    print(
        f"bench.releases: {N_RELEASES} releases x {N_SERVICES} services; web {WEB_WORKERS} "
        f"gunicorn workers, worker default prefork -c 2, outbound {OUTBOUND_POOL} -c "
        f"{OUTBOUND_THREADS if OUTBOUND_POOL == 'threads' else OUTBOUND_PROCS}; "
        f"stand-ins: one process each; logs in {logs}"
    )

    def cpu(name: str) -> None:
        print(f"    {Meter.format(meter.phases[name])}")

    try:
        # --- floor ----------------------------------------------------------------------------
        for _ in range(5):
            ping.delay().get(timeout=30)
        floor = []
        meter.start()
        for _ in range(50):
            t = time.perf_counter()
            ping.delay().get(timeout=30)
            floor.append(time.perf_counter() - t)
        meter.phase("floor")
        report = Report(floor)
        cpu("floor")

        def register(svc: Remote) -> str:
            body = {"name": svc.name, "author": "bench", "url": svc.url}
            resp = session.post(f"{web}/task-services", json=body, headers=auth, timeout=30)
            resp.raise_for_status()
            svc.configure(web, resp.json()["inbound_token"])
            return resp.json()["kf_id"]

        push = [fleet.spawn("manual", f"push {i}", push=True) for i in range(N_SERVICES)]
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

        # --- 1. POST → every task started, 50 releases together -----------------------------
        meter.start()
        with ThreadPoolExecutor(max_workers=N_RELEASES) as pool:
            created = list(pool.map(create, range(N_RELEASES)))
        fleet.wait(
            lambda: fleet.action_count["start"] >= N_RELEASES * N_SERVICES,
            timeout=600,
            message="every task started",
        )
        meter.phase("create")
        report.line(
            "POST -> every task started (burst)",
            [max(at for _, _, at in fleet.actions[("start", kf)]) - t0 for kf, t0 in created],
        )
        cpu("create")

        # --- 2. last staged report → staged via the API -------------------------------------
        tasks_of = {
            kf: [(push[i], tid) for i, tid, _ in fleet.actions[("start", kf)]] for kf, _ in created
        }
        # Wait until every start is acknowledged so reports are never early.
        deadline = time.time() + 120
        while Release.objects.filter(tasks__pending_action="start").exists():
            assert time.time() < deadline, "starts not acknowledged"
            time.sleep(0.1)

        def stage(kf_id: str) -> float:
            pairs = tasks_of[kf_id]
            for svc, tid in pairs[:-1]:
                svc.patch(tid, {"state": "staged", "progress": 100})
            svc, tid = pairs[-1]
            t = time.perf_counter()
            svc.patch(tid, {"state": "staged", "progress": 100})
            while requests.get(f"{web}/releases/{kf_id}", timeout=120).json()["state"] != "staged":
                time.sleep(0.005)
            return time.perf_counter() - t

        ids = [kf for kf, _ in created]
        quiet_ids, burst_ids = ids[:10], ids[10:]
        report.line("last staged PATCH -> staged via API (quiet)", [stage(k) for k in quiet_ids])
        meter.start()
        with ThreadPoolExecutor(max_workers=len(burst_ids)) as pool:
            burst = list(pool.map(stage, burst_ids))
        meter.phase("stage burst")
        report.line("last staged PATCH -> staged via API (burst)", burst)
        cpu("stage burst")

        # --- 3. publish → published ----------------------------------------------------------
        def published_at(kf_id: str) -> float | None:
            # The release completes inside the last `published` PATCH, so that PATCH's answer
            # is the moment it is published; the API confirms it below. Called under the lock.
            done = fleet.patches[("published", kf_id)]
            return max(r[3] for r in done) if len(done) == N_SERVICES else None

        def publish(kf_id: str) -> float:
            t = time.time()
            resp = requests.post(f"{web}/releases/{kf_id}/publish", headers=auth, timeout=120)
            resp.raise_for_status()
            done = fleet.wait(lambda: published_at(kf_id), timeout=300, message=kf_id)
            state = requests.get(f"{web}/releases/{kf_id}", timeout=120).json()["state"]
            assert state == "published", (kf_id, state)
            return done - t

        report.line("publish -> published (one at a time)", [publish(k) for k in ids[:5]])
        meter.start()
        with ThreadPoolExecutor(max_workers=len(ids) - 5) as pool:
            publish_burst = list(pool.map(publish, ids[5:]))
        spent = meter.phase("publish burst")
        report.line("publish -> published (45 together)", publish_burst)
        cpu("publish burst")
        calls = (len(ids) - 5) * N_SERVICES
        print(
            f"    per operation: web {spent['web'] * 1000 / calls:.2f} ms CPU per task report "
            f"(PATCH; {calls} PATCHes + {len(ids) - 5} publish POSTs and GETs), outbound "
            f"{spent['celery outbound'] * 1000 / calls:.2f} ms CPU per call ({calls} publish "
            "calls)   (targets: web <= 2 ms, outbound <= 1.5 ms)"
        )
        with fleet.cond:
            bad = sum(1 for rows in fleet.patches.values() for r in rows if r[4] >= 300)
        print(f"push PATCHes answered non-2xx: {bad}")

        # --- 4. poll mode --------------------------------------------------------------------
        # Beat, and the workers that set each task's first poll (the default one at start, the
        # outbound one at the acknowledgement), all get the interval.
        poll_env = {"RELEASES_TASK_POLL_INTERVAL": str(POLL_INTERVAL)}
        beat.stop()
        for i, restart in ((1, default_worker), (2, outbound_worker)):
            procs[i].stop()
            procs[i] = restart(f"{procs[i].name}-poll", **poll_env)
        start_beat("bench-beat-poll", **poll_env)
        for sid in push_ids:
            session.patch(f"{web}/task-services/{sid}", json={"enabled": False}, headers=auth)
        polled = [fleet.spawn("poll", f"poll {i}") for i in range(N_SERVICES)]
        for svc in polled:
            register(svc)
        n_poll = 5
        meter.start()
        with ThreadPoolExecutor(max_workers=n_poll) as pool:
            poll_created = list(pool.map(create, range(n_poll)))
        seen: dict[str, float] = {}
        deadline = time.time() + 300
        while len(seen) < n_poll:
            assert time.time() < deadline, "poll-mode releases not staged"
            for kf_id, _ in poll_created:
                if kf_id not in seen:
                    state = requests.get(f"{web}/releases/{kf_id}", timeout=120).json()["state"]
                    if state == "staged":
                        seen[kf_id] = time.time()
            time.sleep(0.02)
        meter.phase("poll")
        lags = []
        with fleet.cond:
            for kf_id, _ in poll_created:
                turned = [
                    fleet.turned[(i, tid, "staged")]
                    for i, tid, _ in fleet.actions[("start", kf_id)]
                ]
                lags.append(seen[kf_id] - max(turned))
        report.line(f"poll: service staged -> staged via API ({POLL_INTERVAL:g} s poll)", lags)
        cpu("poll")
    finally:
        for proc in reversed(procs):
            proc.stop()
        fleet.stop()


if __name__ == "__main__":
    main()
