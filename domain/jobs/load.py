"""The job load over time (GET /v6/load/): counts of pending, queued and running jobs measured
by beat (`jobs.measure_load`), kept for `SCALE_LOAD_RETENTION_DAYS`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from domain.common.env import env_int
from domain.common.errors import InvalidInput
from domain.jobs.models import Job, JobLoad, JobStatus

MAX_RANGE = timedelta(days=31)
DEFAULT_RANGE = timedelta(hours=3)


def job_load_measure() -> JobLoad:
    """One measurement now; measurements older than the retention are removed."""
    counts = dict(
        Job.objects.filter(status__in=[JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING])
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    now = timezone.now()
    retention = timedelta(days=env_int("SCALE_LOAD_RETENTION_DAYS", 31))
    JobLoad.objects.filter(measured__lt=now - retention).delete()
    return JobLoad.objects.create(
        measured=now,
        pending_count=counts.get(JobStatus.PENDING, 0),
        queued_count=counts.get(JobStatus.QUEUED, 0),
        running_count=counts.get(JobStatus.RUNNING, 0),
    )


def job_load(*, started: datetime | None, ended: datetime | None) -> QuerySet[JobLoad]:
    """Measurements in [started, ended] (3 hours back from now by default), at most 31 days."""
    ended = ended or timezone.now()
    started = started or ended - DEFAULT_RANGE
    if ended < started:
        raise InvalidInput("ended must not be before started")
    if ended - started > MAX_RANGE:
        raise InvalidInput("The time range may be at most 31 days")
    return JobLoad.objects.filter(measured__gte=started, measured__lte=ended).order_by("measured")
