"""Reads of jobs: lists by the original's filters, one job, its executions and input files,
the queue, and the per-job-type statistics (specs/scale-and-flotilla.md A.3, A.12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from domain.common.errors import InvalidInput, NotFound
from domain.jobs.models import (
    Error,
    ErrorCategory,
    Job,
    JobExecution,
    JobStatus,
    JobType,
    ScaleFile,
)

JOB_ORDER_FIELDS = frozenset(
    {
        "id",
        "status",
        "priority",
        "num_exes",
        "created",
        "queued",
        "started",
        "ended",
        "last_status_change",
        "last_modified",
    }
)
STATUS_WINDOW = timedelta(hours=3)
TYPE_NAME_VERSION_MAX = 1000


@dataclass(frozen=True)
class JobFilter:
    """The filters of GET /v6/jobs/ and of the cancel and requeue bodies; empty = any."""

    started: datetime | None = None
    ended: datetime | None = None
    statuses: Sequence[str] = ()
    job_ids: Sequence[int] = ()
    job_type_ids: Sequence[int] = ()
    job_type_names: Sequence[str] = ()
    job_types: Sequence[tuple[str, str]] = ()
    batch_ids: Sequence[int] = ()
    recipe_ids: Sequence[int] = ()
    error_categories: Sequence[str] = ()
    error_ids: Sequence[int] = ()
    is_superseded: bool | None = None


def jobs_filtered(*, filters: JobFilter, order: Sequence[str] = ()) -> QuerySet[Job]:
    rows = Job.objects.select_related("job_type", "job_type_rev", "error")
    rows = _time_bounds(rows, filters)
    rows = _by_ids(rows, filters)
    unknown = sorted(set(filters.statuses) - set(JobStatus.values))
    if unknown:
        raise InvalidInput(f"status: {unknown[0]!r} is not one of {', '.join(JobStatus.values)}")
    if filters.statuses:
        rows = rows.filter(status__in=filters.statuses)
    if filters.job_types:
        rows = rows.filter(job_type_id__in=_job_type_ids(filters.job_types))
    categories = sorted(set(filters.error_categories) - set(ErrorCategory.values))
    if categories:
        raise InvalidInput(f"error_category: {categories[0]!r} is not a category")
    if filters.error_categories:
        rows = rows.filter(error__category__in=filters.error_categories)
    if filters.is_superseded is not None:
        rows = rows.filter(is_superseded=filters.is_superseded)
    # Batches and recipes are not served: no job belongs to one.
    if filters.batch_ids or filters.recipe_ids:
        rows = rows.none()
    return rows.order_by(*order, "-last_modified", "-id")


def _time_bounds(rows: QuerySet[Job], filters: JobFilter) -> QuerySet[Job]:
    if filters.started is not None:
        rows = rows.filter(last_modified__gte=filters.started)
    if filters.ended is not None:
        rows = rows.filter(last_modified__lte=filters.ended)
    return rows


def _by_ids(rows: QuerySet[Job], filters: JobFilter) -> QuerySet[Job]:
    if filters.job_ids:
        rows = rows.filter(pk__in=filters.job_ids)
    if filters.job_type_ids:
        rows = rows.filter(job_type_id__in=filters.job_type_ids)
    if filters.job_type_names:
        rows = rows.filter(job_type__name__in=filters.job_type_names)
    if filters.error_ids:
        rows = rows.filter(error_id__in=filters.error_ids)
    return rows


def _job_type_ids(pairs: Sequence[tuple[str, str]]) -> list[int]:
    """The ids of named job types; a name/version that names none is a 400 (A.12)."""
    ids = []
    for name, version in pairs:
        found = JobType.objects.filter(name=name, version=version).values_list("pk", flat=True)
        if not found:
            raise InvalidInput(f"Job type {name} {version} does not exist")
        ids.append(found[0])
    return ids


def job_get(*, job_id: int) -> Job:
    job = Job.objects.select_related("job_type", "job_type_rev", "error").filter(pk=job_id).first()
    if job is None:
        raise NotFound("Not found.")
    return job


def job_latest_execution(*, job: Job) -> JobExecution | None:
    return JobExecution.objects.select_related("error").filter(job=job).order_by("-exe_num").first()


def job_executions(*, job_id: int, statuses: Sequence[str] = ()) -> QuerySet[JobExecution]:
    job_get(job_id=job_id)
    rows = JobExecution.objects.select_related("job", "job__job_type", "error").filter(
        job_id=job_id
    )
    if statuses:
        rows = rows.filter(status__in=statuses)
    return rows.order_by("-exe_num")


def job_execution_get(*, job_id: int, exe_num: int) -> JobExecution:
    found = job_executions(job_id=job_id).filter(exe_num=exe_num).first()
    if found is None:
        raise NotFound("Not found.")
    return found


def job_execution_by_id(*, job_exe_id: int) -> JobExecution:
    found = JobExecution.objects.select_related("job").filter(pk=job_exe_id).first()
    if found is None:
        raise NotFound("Not found.")
    return found


def job_input_files(*, job_id: int) -> QuerySet[ScaleFile]:
    job = job_get(job_id=job_id)
    ids = [i for ids in job.input.get("files", {}).values() for i in ids]
    return ScaleFile.objects.select_related("workspace").filter(pk__in=ids).order_by("id")


# --- the queue and the job types' statistics ----------------------------------------------------


@dataclass(frozen=True)
class QueuedType:
    job_type: JobType
    count: int
    longest_queued: datetime
    highest_priority: int


def queue_status() -> list[QueuedType]:
    """Per job type with queued jobs: how many, the oldest, the most urgent; paused types last."""
    rows = (
        Job.objects.filter(status=JobStatus.QUEUED)
        .values("job_type_id")
        .annotate(count=Count("id"), longest=Min("queued"), priority=Min("priority"))
    )
    types = JobType.objects.in_bulk([r["job_type_id"] for r in rows])
    found = [
        QueuedType(types[r["job_type_id"]], r["count"], r["longest"], r["priority"]) for r in rows
    ]
    return sorted(
        found,
        key=lambda q: (q.job_type.is_paused, q.highest_priority, q.longest_queued, q.job_type.pk),
    )


@dataclass(frozen=True)
class JobCount:
    status: str
    count: int
    most_recent: datetime
    category: str | None


@dataclass(frozen=True)
class TypeStatus:
    job_type: JobType
    job_counts: list[JobCount]


def job_type_status(
    *, started: datetime | None, ended: datetime | None, is_active: bool | None
) -> list[TypeStatus]:
    """Per job type, its jobs grouped by (status, error category) whose last status change is
    in [started, ended] (started defaults to 3 hours ago); RUNNING jobs always count."""
    started = started or timezone.now() - STATUS_WINDOW
    window = Q(last_status_change__gte=started)
    if ended is not None:
        window &= Q(last_status_change__lte=ended)
    rows = (
        Job.objects.filter(window | Q(status=JobStatus.RUNNING))
        .values("job_type_id", "status", "error__category")
        .annotate(count=Count("id"), most_recent=Max("last_status_change"))
        .order_by("job_type_id", "status", "error__category")
    )
    counts: dict[int, list[JobCount]] = {}
    for r in rows:
        counts.setdefault(r["job_type_id"], []).append(
            JobCount(r["status"], r["count"], r["most_recent"], r["error__category"])
        )
    types = JobType.objects.all().order_by("name", "version")
    if is_active is not None:
        types = types.filter(is_active=is_active)
    return [TypeStatus(t, counts.get(t.pk, [])) for t in types]


@dataclass(frozen=True)
class TypeWaiting:
    job_type: JobType
    count: int
    longest: datetime


def job_types_in_status(*, status: str) -> list[TypeWaiting]:
    """Per job type with jobs in `status` (PENDING or RUNNING): how many, and since when the
    longest has been in it; the longest first."""
    rows = (
        Job.objects.filter(status=status)
        .values("job_type_id")
        .annotate(count=Count("id"), longest=Min("last_status_change"))
        .order_by("longest", "job_type_id")
    )
    types = JobType.objects.in_bulk([r["job_type_id"] for r in rows])
    return [TypeWaiting(types[r["job_type_id"]], r["count"], r["longest"]) for r in rows]


@dataclass(frozen=True)
class SystemFailure:
    job_type: JobType
    error: Any
    count: int
    first_error: datetime
    last_error: datetime


def job_type_system_failures() -> list[SystemFailure]:
    """FAILED jobs with a SYSTEM error, per job type and error; the most recent first."""
    rows = (
        Job.objects.filter(status=JobStatus.FAILED, error__category=ErrorCategory.SYSTEM)
        .values("job_type_id", "error_id")
        .annotate(count=Count("id"), first=Min("ended"), last=Max("ended"))
        .order_by("-last", "job_type_id", "error_id")
    )
    types = JobType.objects.in_bulk([r["job_type_id"] for r in rows])
    errors = Error.objects.in_bulk([r["error_id"] for r in rows])
    return [
        SystemFailure(
            types[r["job_type_id"]], errors[r["error_id"]], r["count"], r["first"], r["last"]
        )
        for r in rows
    ]


def scale_files(
    *, job_ids: Sequence[int] = (), job_outputs: Sequence[str] = ()
) -> QuerySet[ScaleFile]:
    rows = ScaleFile.objects.select_related("workspace")
    if job_ids:
        rows = rows.filter(job_id__in=job_ids)
    if job_outputs:
        rows = rows.filter(job_output__in=job_outputs)
    return rows.order_by("-id")


def scale_file_get(*, file_id: int) -> ScaleFile:
    found = ScaleFile.objects.select_related("workspace").filter(pk=file_id).first()
    if found is None:
        raise NotFound("Not found.")
    return found
