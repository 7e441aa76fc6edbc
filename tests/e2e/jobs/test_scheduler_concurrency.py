"""Two real worker processes run `jobs.schedule` at once over 1,000 queued jobs of 10 job types
with `max_scheduled` limits, while this process plays the engine (it ends executions as they
are handed out) and a third process samples every type's open executions: no sample ever
exceeds a type's limit, and every job completes.

No engine runs here: the workers consume only the `default` queue (the schedules), so each
execution waits QUEUED until this process dispatches and ends it.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import execution_end
from domain.executions.models import Execution, Host, Outcome
from domain.jobs.models import Job, JobStatus
from domain.jobs.queueing import job_queue_new
from orchestrator.celery import app
from tests.domain.jobs.jobs_support import job_type
from tests.support.processes import start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.long(2.5)]
LIMITS = [2, 3, 5, 8, 13, 2, 3, 5, 8, None]
JOBS_PER_TYPE = 100
SAMPLER = Path(__file__).with_name("open_counts_sampler.py")


@pytest.fixture
def cluster(subprocess_env, log_dir, test_database_url, settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")
    name = f"sched-{uuid.uuid4().hex[:8]}"
    original = conf.clusters
    known = {**original(), name: {"engine": "local"}}
    conf.clusters = lambda: known
    env = {
        **subprocess_env,
        "EXECUTIONS_CLUSTERS": json.dumps({name: {"engine": "local"}}),
        "SCALE_JOBS_CLUSTER": name,
    }
    workers = [
        start_worker(env, log_dir / "scheduler", queues="jobs", concurrency=1, name=f"{name}-{i}")
        for i in (1, 2)
    ]
    yield name
    for worker in workers:
        worker.stop()
    conf.clusters = original


def _host(cluster: str) -> None:
    Host.objects.update_or_create(
        name=f"{cluster}-host",
        defaults={
            "queue": f"executions.host.{cluster}-host",
            "clusters": [cluster],
            "slots": 1000,
            "cpus": 1000,
            "mem_mb": 10**7,
            "disk_mb": 10**7,
            "heartbeat_at": timezone.now(),
        },
    )


def _end_some(cluster: str) -> int:
    """The engine side: slots for what is queued, then they end (in a random order, so the
    types' counts go down unevenly while the schedulers run)."""
    execution_dispatch(cluster=cluster)
    pending = list(
        Execution.objects.filter(cluster=cluster, state="PENDING").values_list("id", flat=True)
    )
    ended = 0
    for execution_id in random.sample(pending, k=len(pending)):
        ended += execution_end(
            execution_id=execution_id, outcome=Outcome.EXITED, exit_code=0, reason=""
        )
    return ended


# A thousand jobs through the whole cycle take minutes on a loaded two-core machine.
@pytest.mark.timeout(900)
def test_it_never_exceeds_max_scheduled_with_two_schedulers_at_once(
    cluster, test_database_url, tmp_path
):
    _host(cluster)
    types = [job_type(max_scheduled=limit) for limit in LIMITS]
    for jt in types:
        for _ in range(JOBS_PER_TYPE):
            job_queue_new(job_type_id=jt.pk, data={})
    stop, out = tmp_path / "stop", tmp_path / "sampled.json"
    sampler = subprocess.Popen(
        [sys.executable, str(SAMPLER), test_database_url, cluster, str(stop), str(out)]
    )
    deadline = time.monotonic() + 800
    try:
        while Job.objects.exclude(status=JobStatus.COMPLETED).exists():
            assert time.monotonic() < deadline, "the jobs did not all complete"
            # One schedule for each worker at once (not through the coalescing step, which
            # would send one); a message left from a busy moment expires rather than pile up.
            for _ in range(2):
                app.signature("jobs.schedule").apply_async(ignore_result=True, expires=1)
            time.sleep(0.05)
            _host(cluster)
            _end_some(cluster)
    finally:
        stop.touch()
        sampler.wait(timeout=30)
    sampled = json.loads(out.read_text())
    highest = {int(k): v for k, v in sampled["highest"].items()}
    assert sampled["samples"] > 100
    for jt, limit in zip(types, LIMITS, strict=True):
        if limit is not None:
            assert highest.get(jt.pk, 0) <= limit, (jt.name, highest.get(jt.pk), limit)
    # The limits were reached, not merely respected by an idle queue.
    assert any(highest.get(jt.pk) == limit for jt, limit in zip(types, LIMITS, strict=True))
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 1000
