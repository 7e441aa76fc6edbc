"""Which queued jobs get an execution now (specs/scale-and-flotilla.md A.11). Beat runs it every
second (`jobs.schedule`), and a queueing or a freed slot runs it at once.

    free slots of the jobs cluster's live hosts (slots − open executions) = the budget
    scan QUEUED jobs without an execution: priority, then queue order (no cap on the scan)
      skip: paused types · types at max_scheduled · jobs needing more than the largest host
      → decisions, per job type
    one transaction: lock the chosen types' rows (SKIP LOCKED), recount their open executions,
      lock the chosen jobs (SKIP LOCKED), fail those whose configuration lacks a mount or a
      setting their manifest declares (domain/jobs/config_gaps.py: missing-mount,
      missing-setting), keep each type's within its room, and give them executions with one
      insert per table and one UPDATE of the jobs (domain/executions: execution_build,
      executions_add)

Decisions are made without locks; a type's row lock makes its count and its creations one
step, so two schedulers at once never exceed a type's `max_scheduled` (a type another
scheduler holds is left to that one). A pass writes about a dozen statements whatever it
decides, where one per job cost six. A job that cannot run on
any host sets its type's `unmet_resources` and never blocks the jobs behind it (the original
examined only the top 500, issue #1801).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from domain.executions import conf as executions_conf
from domain.executions.models import OPEN_STATES, Execution, Host
from domain.executions.services import MAX_DEADLINE_SECONDS, execution_build, executions_add
from domain.jobs import conf
from domain.jobs.config_gaps import jobs_unconfigured_fail
from domain.jobs.job_states import job_event
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Job, JobEvent, JobExecution, JobStatus, JobType
from domain.jobs.seed_env import (
    execution_resources,
    input_stages_files,
    job_environment,
    job_mounts,
)

SCAN_FIRST, SCAN_BATCH = 64, 1000
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
    room, unmet_now = _type_room()
    plan = Plan(budget=budget, largest=_largest(hosts), room=room)
    _scan(plan)
    _record_unmet(plan, unmet_now)
    if not plan.chosen:
        return 0
    return _schedule_chosen(plan.chosen, cluster)


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


def _type_room() -> tuple[dict[int, float], dict[int, str | None]]:
    """How many more executions each unpaused job type may have open now, and the
    `unmet_resources` each has now."""
    open_counts = _open_counts(JobExecution.objects.all())
    room, unmet_now = {}, {}
    for type_id, limit, unmet in JobType.objects.filter(is_paused=False).values_list(
        "id", "max_scheduled", "unmet_resources"
    ):
        room[type_id] = _room(limit, open_counts.get(type_id, 0))
        unmet_now[type_id] = unmet
    return room, unmet_now


def _open_counts(executions: QuerySet) -> dict[int, int]:
    """Open executions per job type (the `jobs_exe_open` index)."""
    return dict(
        executions.filter(ended__isnull=True)
        .values_list("job_type_id")
        .annotate(n=Count("id"))
        .values_list("job_type_id", "n")
    )


def _room(limit: int | None, open_count: int) -> float:
    return limit - open_count if limit else math.inf


def _scan(plan: Plan) -> None:
    after: tuple | None = None
    # A few rows per free slot first (most rows scanned are chosen: paused and full types are
    # left out by the query), doubling while the queue's head does not fill the budget.
    size = min(SCAN_BATCH, max(SCAN_FIRST, plan.budget * 4))
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
            )[:size]
        )
        if not batch:
            return
        for pk, type_id, resources, _, _ in batch:
            _consider(plan, pk, type_id, resources)
            if plan.budget <= 0:
                return
        after = (batch[-1][3], batch[-1][4], batch[-1][0])
        size = min(SCAN_BATCH, size * 2)


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


def _record_unmet(plan: Plan, unmet_now: dict[int, str | None]) -> None:
    """Set the names on each type seen whose job cannot run anywhere; clear them on each type
    seen whose jobs all could (A.11). A type already right is not written (most passes write
    nothing); a value another scheduler changed meanwhile is put right by the next pass."""
    for type_id in plan.seen:
        names = ",".join(sorted(plan.unmet.get(type_id, ()))) or None
        if unmet_now.get(type_id) == names:
            continue
        JobType.objects.filter(pk=type_id).exclude(unmet_resources=names).update(
            unmet_resources=names
        )


def _schedule_chosen(chosen: dict[int, list[int]], cluster: str) -> int:
    with transaction.atomic():
        job_types = _lock_types(list(chosen))
        if not job_types:
            return 0  # other schedulers hold them now, or they were paused meanwhile
        room = _room_locked(job_types)
        jobs = _lock_jobs([pk for type_id in job_types for pk in chosen[type_id]])
        manifests = _manifests(jobs)
        jobs = jobs_unconfigured_fail(jobs=jobs, manifests=manifests, job_types=job_types)
        jobs = _within_room(jobs, room)
        _give_executions(jobs, job_types, manifests, cluster)
        return len(jobs)


def _manifests(jobs: list[Job]) -> dict[int, SeedManifest]:
    """Each revision's manifest, read once for the pass."""
    manifests: dict[int, SeedManifest] = {}
    for job in jobs:
        if job.job_type_rev_id not in manifests:
            manifests[job.job_type_rev_id] = SeedManifest(job.job_type_rev.manifest)
    return manifests


def _lock_types(type_ids: list[int]) -> dict[int, JobType]:
    """The unpaused types among `type_ids` that no other scheduler holds, locked."""
    locked = JobType.objects.select_for_update(skip_locked=True).filter(
        pk__in=type_ids, is_paused=False
    )
    return {job_type.pk: job_type for job_type in locked.order_by("pk")}


def _room_locked(job_types: dict[int, JobType]) -> dict[int, float]:
    limited = [pk for pk, job_type in job_types.items() if job_type.max_scheduled]
    open_counts = _open_counts(JobExecution.objects.filter(job_type_id__in=limited))
    return {
        pk: _room(job_type.max_scheduled, open_counts.get(pk, 0))
        for pk, job_type in job_types.items()
    }


def _lock_jobs(job_ids: list[int]) -> list[Job]:
    """The chosen jobs still queued without an execution that no other scheduler holds, locked
    (their rows only), in queue order, each with its revision."""
    return list(
        Job.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("job_type_rev")
        .filter(pk__in=job_ids, status=JobStatus.QUEUED, execution_id="")
        .order_by("priority", "queued", "pk")
    )


def _within_room(jobs: list[Job], room: dict[int, float]) -> list[Job]:
    kept = []
    for job in jobs:
        if room[job.job_type_id] > 0:
            room[job.job_type_id] -= 1
            kept.append(job)
    return kept


def _give_executions(
    jobs: list[Job],
    job_types: dict[int, JobType],
    manifests: dict[int, SeedManifest],
    cluster: str,
) -> None:
    """Give each job (locked, QUEUED, no execution) execution number `num_exes`: the
    executions, the jobs, their execution records and their SCHEDULED events, a statement each."""
    if not jobs:
        return
    executions = [
        _execution(job, job_types[job.job_type_id], manifests[job.job_type_rev_id], cluster)
        for job in jobs
    ]
    executions_add(executions=executions)
    for job, execution in zip(jobs, executions, strict=True):
        job.execution_id = execution.id
    JobExecution.objects.bulk_create(
        JobExecution(
            job=job,
            job_type_id=job.job_type_id,
            exe_num=job.num_exes,
            execution_id=job.execution_id,
            status=JobStatus.RUNNING,
        )
        for job in jobs
    )
    # Each job takes its execution from the record just written (its unique (job, exe_num)
    # index): one short UPDATE, where a CASE per job costs more Python than the rest of the pass.
    current = JobExecution.objects.filter(job=OuterRef("pk"), exe_num=OuterRef("num_exes"))
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
        execution_id=Subquery(current.values("execution_id")), last_modified=timezone.now()
    )
    JobEvent.objects.bulk_create(
        job_event(job=job, event_type="SCHEDULED", description=f"execution {job.execution_id}")
        for job in jobs
    )


def _execution(job: Job, job_type: JobType, manifest: SeedManifest, cluster: str) -> Execution:
    """The execution of `job`'s current attempt, unsaved, from its revision's manifest."""
    return execution_build(
        owner_type=OWNER_TYPE,
        owner_id=str(job.pk),
        cluster=cluster,
        command=manifest.interface.get("command", "") or "true",
        env=job_environment(job, manifest),
        image=job_type.docker_image,
        resources=execution_resources(job),
        deadline_seconds=_deadline(job_type, manifest),
        labels={"job_id": str(job.pk), "job_type": job_type.name, "exe_num": str(job.num_exes)},
        priority=job.priority,
        attempt=job.num_exes,
        mounts=job_mounts(job, manifest),
        stages_files=input_stages_files(job.input, manifest),
    )


def _deadline(job_type: JobType, manifest: SeedManifest) -> int:
    """The manifest's timeout is the execution's deadline; long-running types have none (the
    longest an execution may have)."""
    timeout = manifest.job.get("timeout") or 0
    if job_type.is_long_running or timeout <= 0:
        return MAX_DEADLINE_SECONDS
    return min(int(timeout), MAX_DEADLINE_SECONDS)
