"""Which queued jobs get an execution now (specs/scale-and-flotilla.md A.11). Beat runs it every
second (`jobs.schedule`), and a queueing or a freed slot runs it at once.

    free slots of the jobs cluster's live hosts (slots − open executions) = the budget
    scan QUEUED jobs without an execution: priority, then queue order (no cap on the scan)
      skip: paused types · types at max_scheduled · jobs needing more than the largest host
      → decisions, per job type
    per job type: lock its row (SKIP LOCKED), recount its open executions, lock the chosen
      jobs (SKIP LOCKED), give each an execution (domain/executions: execution_create)

Decisions are made without locks; the type's row lock makes the count and the creations one
step, so two schedulers at once never exceed a type's `max_scheduled`. A job that cannot run on
any host sets its type's `unmet_resources` and never blocks the jobs behind it (the original
examined only the top 500, issue #1801).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from domain.executions import conf as executions_conf
from domain.executions.models import OPEN_STATES, Execution, Host
from domain.executions.services import MAX_DEADLINE_SECONDS, execution_create
from domain.jobs import conf
from domain.jobs.job_states import job_event_add
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Job, JobExecution, JobStatus, JobType
from domain.jobs.seed_env import (
    execution_resources,
    job_environment,
    job_mounts,
    job_stages_files,
)

SCAN_BATCH = 1000
OWNER_TYPE = "jobs.job"
# Resources a host advertises, by the manifest's names; `sharedmem` is not a host's (A.11).
HOST_RESOURCES = {"cpus": "cpus", "mem": "mem_mb", "disk": "disk_mb", "gpus": "gpus"}
IGNORED_RESOURCES = frozenset({"sharedmem"})


@dataclass
class Plan:
    budget: int
    largest: dict[str, float]
    room: dict[int, float]
    chosen: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    unmet: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    seen: set[int] = field(default_factory=set)


def jobs_schedule(*, cluster: str | None = None) -> int:
    """Give as many queued jobs executions as the cluster has free slots. Returns how many."""
    cluster = cluster or conf.jobs_cluster()
    hosts = _live_hosts(cluster)
    if not hosts:
        return 0
    budget = sum(h.slots for h in hosts) - _open_executions(cluster)
    if budget <= 0:
        return 0
    plan = Plan(budget=budget, largest=_largest(hosts), room=_type_room())
    _scan(plan)
    _record_unmet(plan)
    return sum(_schedule_type(type_id, ids, cluster) for type_id, ids in plan.chosen.items())


def _live_hosts(cluster: str) -> list[Host]:
    since = timezone.now() - timedelta(seconds=executions_conf.HOST_TIMEOUT)
    return [h for h in Host.objects.filter(heartbeat_at__gte=since) if cluster in h.clusters]


def _open_executions(cluster: str) -> int:
    return Execution.objects.filter(cluster=cluster, state__in=OPEN_STATES).count()


def _largest(hosts: list[Host]) -> dict[str, float]:
    return {
        name: max(float(getattr(h, column)) for h in hosts)
        for name, column in HOST_RESOURCES.items()
    }


def _type_room() -> dict[int, float]:
    """How many more executions each unpaused job type may have open now."""
    open_counts = dict(
        JobExecution.objects.filter(ended__isnull=True)
        .values_list("job_type_id")
        .annotate(n=Count("id"))
        .values_list("job_type_id", "n")
    )
    room = {}
    for type_id, limit in JobType.objects.filter(is_paused=False).values_list(
        "id", "max_scheduled"
    ):
        room[type_id] = (limit - open_counts.get(type_id, 0)) if limit else math.inf
    return room


def _scan(plan: Plan) -> None:
    after: tuple | None = None
    while plan.budget > 0:
        open_types = [t for t, room in plan.room.items() if room > 0]
        if not open_types:
            return
        rows = Job.objects.filter(
            status=JobStatus.QUEUED, execution_id="", job_type_id__in=open_types
        )
        if after is not None:
            priority, queued, pk = after
            rows = rows.filter(
                Q(priority__gt=priority)
                | Q(priority=priority, queued__gt=queued)
                | Q(priority=priority, queued=queued, pk__gt=pk)
            )
        batch = list(
            rows.order_by("priority", "queued", "pk").values_list(
                "pk", "job_type_id", "resources", "priority", "queued"
            )[:SCAN_BATCH]
        )
        if not batch:
            return
        for pk, type_id, resources, _, _ in batch:
            _consider(plan, pk, type_id, resources)
            if plan.budget <= 0:
                return
        after = (batch[-1][3], batch[-1][4], batch[-1][0])


def _consider(plan: Plan, pk: int, type_id: int, resources: dict) -> None:
    plan.seen.add(type_id)
    if plan.room[type_id] <= 0:
        return
    missing = unmet_resources(resources, plan.largest)
    if missing:
        plan.unmet[type_id].update(missing)
        return
    plan.chosen[type_id].append(pk)
    plan.room[type_id] -= 1
    plan.budget -= 1


def unmet_resources(needs: dict, largest: dict[str, float]) -> list[str]:
    """The names of what no host offers enough of (a name no host offers at all included)."""
    missing = []
    for name, amount in needs.items():
        if name in IGNORED_RESOURCES or not amount:
            continue
        if amount > largest.get(name, 0.0):
            missing.append(name)
    return sorted(missing)


def _record_unmet(plan: Plan) -> None:
    """Set the names on each type seen whose job cannot run anywhere; clear them on each type
    seen whose jobs all could (A.11)."""
    for type_id in plan.seen:
        names = ",".join(sorted(plan.unmet.get(type_id, ()))) or None
        JobType.objects.filter(pk=type_id).exclude(unmet_resources=names).update(
            unmet_resources=names
        )


def _schedule_type(type_id: int, job_ids: list[int], cluster: str) -> int:
    with transaction.atomic():
        job_type = (
            JobType.objects.select_for_update(skip_locked=True)
            .filter(pk=type_id, is_paused=False)
            .first()
        )
        if job_type is None:
            return 0  # another scheduler holds it now, or it was paused meanwhile
        room = _room_locked(job_type)
        if room <= 0:
            return 0
        jobs = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(pk__in=job_ids, status=JobStatus.QUEUED, execution_id="")
            .order_by("priority", "queued", "pk")
        )
        if math.isfinite(room):
            jobs = jobs[: int(room)]
        manifest = SeedManifest(job_type.manifest)
        scheduled = 0
        for job in jobs:
            job_schedule(job=job, job_type=job_type, manifest=manifest, cluster=cluster)
            scheduled += 1
        return scheduled


def _room_locked(job_type: JobType) -> float:
    if not job_type.max_scheduled:
        return math.inf
    running = JobExecution.objects.filter(job_type=job_type, ended__isnull=True).count()
    return job_type.max_scheduled - running


def job_schedule(*, job: Job, job_type: JobType, manifest: SeedManifest, cluster: str) -> None:
    """Give `job` (locked, QUEUED, no execution) execution number `num_exes`."""
    revision_manifest = SeedManifest(job.job_type_rev.manifest)
    execution = execution_create(
        owner_type=OWNER_TYPE,
        owner_id=str(job.pk),
        cluster=cluster,
        command=revision_manifest.interface.get("command", "") or "true",
        env=job_environment(job, revision_manifest),
        image=job_type.docker_image,
        resources=execution_resources(job),
        deadline_seconds=_deadline(job_type, revision_manifest),
        labels={"job_id": str(job.pk), "job_type": job_type.name, "exe_num": str(job.num_exes)},
        priority=job.priority,
        attempt=job.num_exes,
        mounts=job_mounts(job, revision_manifest),
        stages_files=job_stages_files(job, revision_manifest),
    )
    job.execution_id = execution.id
    job.save(update_fields=["execution_id", "last_modified"])
    JobExecution.objects.create(
        job=job,
        job_type=job_type,
        exe_num=job.num_exes,
        execution_id=execution.id,
        status=JobStatus.RUNNING,
    )
    job_event_add(job=job, event_type="SCHEDULED", description=f"execution {execution.id}")


def _deadline(job_type: JobType, manifest: SeedManifest) -> int:
    """The manifest's timeout is the execution's deadline; long-running types have none (the
    longest an execution may have)."""
    timeout = manifest.job.get("timeout") or 0
    if job_type.is_long_running or timeout <= 0:
        return MAX_DEADLINE_SECONDS
    return min(int(timeout), MAX_DEADLINE_SECONDS)
