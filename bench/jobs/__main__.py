"""`python -m bench.jobs`: the Scale job scheduler and a job's round trip, against floors
measured in the same run, on PostgreSQL and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL, a
scratch database recreated at start).

1. Scheduling decisions per second. BENCH_JOBS (10,000) queued jobs of 10 job types with
   priorities 1–5, two types paused and `max_scheduled` limits on most, one host of BENCH_SLOTS
   (16) slots. Only `jobs_schedule()` is timed (a decision = a job moved from the queue to an
   execution); between calls the engine side is played in process (dispatch, end), untimed, so
   slots and limits free up. Floor: one indexed `SELECT … FOR UPDATE SKIP LOCKED` of the
   queue's head per decision, each in its own transaction, on the same table in the same run:
   after each pass, as many as it made decisions (the same load, the same queue).
2. Queue → COMPLETED for a `true` job, p50/p95 over BENCH_SEQUENTIAL (30) jobs one after
   another, through a real Celery worker (default + executions, local engine). Floor: a no-op
   Celery round trip through the same worker plus fork+exec of `bash -c true`, medians.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from bench.service import DEFAULT_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

JOBS = int(os.environ.get("BENCH_JOBS", "10000"))
SLOTS = int(os.environ.get("BENCH_SLOTS", "16"))
SEQUENTIAL = int(os.environ.get("BENCH_SEQUENTIAL", "30"))
DECISIONS = int(os.environ.get("BENCH_DECISIONS", "3000"))
DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/regatta_bench_jobs"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
LIMITS = [None, 4, 8, 2, None, 6, 3, None, 5, 1]
PAUSED = {2, 6}
FLOOR_SQL = (
    "SELECT id FROM jobs_job WHERE status = 'QUEUED' AND execution_id = '' "
    "ORDER BY priority, queued, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def _prepare_database() -> None:
    import psycopg2

    url = urlparse(DB_URL)
    admin = psycopg2.connect(urlunparse(url._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        name = url.path.lstrip("/")
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    env = dict(os.environ, DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _setup_django() -> None:
    os.environ.update(
        DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="orchestrator.settings"
    )
    import django

    django.setup()


def _host(slots: int) -> None:
    from django.utils import timezone

    from domain.executions.models import Host

    Host.objects.update_or_create(
        name="bench-host",
        defaults={
            "queue": "executions.host.bench-host",
            "clusters": ["default"],
            "slots": slots,
            "cpus": 64,
            "mem_mb": 10**6,
            "disk_mb": 10**6,
            "heartbeat_at": timezone.now(),
        },
    )


def _queue_jobs(n: int) -> list:
    """Job types and `n` queued jobs, bulk-inserted (setup, not measured)."""
    from django.utils import timezone

    from domain.jobs.job_types import job_type_create, job_type_edit
    from domain.jobs.models import Job, JobStatus, JobTypeRevision
    from tests.domain.jobs.jobs_support import seed

    types = []
    for i, limit in enumerate(LIMITS):
        saved = job_type_create(
            docker_image="bench:1",
            manifest=seed(name=f"bench-{i}", command="true"),
            options={"max_scheduled": limit},
        )
        types.append(saved.job_type)
        if i in PAUSED:
            job_type_edit(name=saved.job_type.name, version="1.0.0", changes={"is_paused": True})
    revisions = {r.job_type_id: r for r in JobTypeRevision.objects.all()}
    now = timezone.now()
    rng = random.Random(7)
    rows = []
    for k in range(n):
        jt = types[k % len(types)]
        rows.append(
            Job(
                job_type=jt,
                job_type_rev=revisions[jt.pk],
                status=JobStatus.QUEUED,
                priority=rng.randint(1, 5),
                max_tries=3,
                num_exes=1,
                input={"files": {}, "json": {}},
                configuration={},
                resources={"cpus": 0.25, "mem": 128.0, "disk": 0.0},
                queued=now,
                last_status_change=now,
            )
        )
    Job.objects.bulk_create(rows, batch_size=2000)
    return types


def _silence_steps() -> None:
    """No broker messages from the in-process phase: every step after commit is dropped."""
    from domain.common import steps

    steps._run_logged = lambda step: None


def _free_slots() -> None:
    """The engine side, untimed: what was handed out runs and ends."""
    from domain.executions.dispatch import execution_dispatch
    from domain.executions.launches import execution_end
    from domain.executions.models import Execution, Outcome

    execution_dispatch(cluster="default")
    for execution_id in Execution.objects.filter(state="PENDING").values_list("id", flat=True):
        execution_end(execution_id=execution_id, outcome=Outcome.EXITED, exit_code=0, reason="")


def measure_scheduling() -> tuple[float, float]:
    """Each pass is followed by as many floor selects as it made decisions, so the two rates
    see the same load (the machine is shared) and the same queue."""
    import domain.jobs.scheduling as scheduling
    from bench.cpu import Meter

    _silence_steps()
    _host(SLOTS)
    _queue_jobs(JOBS)
    meter = Meter({})
    meter.start()
    decisions, passes = 0, 0
    ours, floor = Clock(), Clock()
    while decisions < DECISIONS:
        _host(SLOTS)
        with ours:
            made = scheduling.jobs_schedule()
        if made == 0:
            break
        with floor:
            _floor_selects(made)
        decisions += made
        passes += 1
        _free_slots()
    loop = meter.phase("schedule")
    print(f"  {decisions} decisions in {passes} passes (wall s, this process's CPU s):")
    print(f"    jobs_schedule() {ours.wall:.1f}, {ours.cpu:.1f}")
    print(f"    floor selects   {floor.wall:.1f}, {floor.cpu:.1f}")
    print(f"  whole loop (engine side included) {Meter.format(loop)}")
    return decisions / ours.wall, decisions / floor.wall


class Clock:
    """Wall and this process's CPU time summed over the blocks it times."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def _floor_selects(n: int) -> None:
    from django.db import connection, transaction

    for _ in range(n):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(FLOOR_SQL)
            cur.fetchall()


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure_round_trip() -> tuple[list[float], list[float], list[float]]:
    """Queue → COMPLETED through a real worker running the local engine."""
    from django.db import connections

    from bench.cpu import CpuacctGroup, Meter
    from domain.jobs.job_types import job_type_create
    from orchestrator.lifecycles import install
    from orchestrator.tasks.common import ping
    from tests.domain.jobs.jobs_support import seed
    from tests.support.processes import start_worker

    install()
    connections.close_all()
    logs = Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"bench-jobs-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, EXECUTIONS_HOST="bench-worker", EXECUTIONS_SLOTS=str(SLOTS))
    worker = start_worker(env, logs, queues="jobs,default,executions", concurrency=2, name="bench")
    # The executions' supervisors detach from the worker's tree: a cpuacct group that every
    # worker process joins (their forks inherit it) still counts them.
    group = CpuacctGroup(f"regatta-bench-jobs-{uuid.uuid4().hex[:8]}")
    group.add_tree(worker.popen.pid)
    meter = Meter(
        {"celery worker": lambda: [worker.popen.pid]},
        counters={"supervisors + commands": lambda seen: group.seconds() - seen["celery worker"]},
    )
    try:
        jt = job_type_create(docker_image="bench:1", manifest=seed(name="bench-true")).job_type
        meter.start()
        times = [_one_job(jt.pk) for _ in range(SEQUENTIAL)]
        print(f"  jobs  {Meter.format(meter.phase('jobs'))}")
        meter.start()
        pings = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            ping.delay().get(timeout=30)
            pings.append(time.perf_counter() - started)
        print(f"  pings {Meter.format(meter.phase('pings'))}")
    finally:
        worker.stop()
        group.remove()  # empty once every supervisor has ended
    forks = []
    for _ in range(SEQUENTIAL):
        started = time.perf_counter()
        subprocess.run(["bash", "-c", "true"], check=True)
        forks.append(time.perf_counter() - started)
    return times, pings, forks


def _one_job(job_type_id: int) -> float:
    from domain.jobs.models import Job, JobStatus
    from domain.jobs.queueing import job_queue_new

    started = time.perf_counter()
    job = job_queue_new(job_type_id=job_type_id, data={})
    ended = (JobStatus.COMPLETED, JobStatus.FAILED)
    while Job.objects.filter(pk=job.pk).values_list("status", flat=True)[0] not in ended:
        time.sleep(0.005)
    return time.perf_counter() - started


def main() -> None:
    _prepare_database()
    _setup_django()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    if os.environ.get("BENCH_PHASE", "schedule") == "schedule":
        print(
            f"scheduling: {JOBS} queued jobs, 10 types (2 paused, limits {LIMITS}), {SLOTS} slots"
            f" ({_load()})"
        )
        ours, floor = measure_scheduling()
        print(f"  decisions/s {ours:.0f}   floor (one SKIP LOCKED select each) {floor:.0f}/s")
        print(f"  ratio ours/floor {ours / floor:.3f}   ({_load()})")
        # The round trip in a fresh process: this one's steps were silenced.
        env = dict(os.environ, BENCH_PHASE="round-trip")
        subprocess.run([sys.executable, "-m", "bench.jobs"], cwd=ROOT, env=env, check=True)
        return
    print(f"queue → COMPLETED for `true`, {SEQUENTIAL} jobs one after another ({_load()})")
    times, pings, forks = measure_round_trip()
    floor = statistics.median(pings) + statistics.median(forks)
    p50, p95 = pct(times, 50), pct(times, 95)
    print(f"  p50 {p50 * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms")
    print(
        f"  floor (Celery round trip {statistics.median(pings) * 1000:.1f} ms + fork/exec "
        f"{statistics.median(forks) * 1000:.1f} ms) {floor * 1000:.1f} ms"
    )
    print(f"  ratio p50/floor {p50 / floor:.1f}   ({_load()})")


if __name__ == "__main__":
    main()
