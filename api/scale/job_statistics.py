"""What the queue holds and how job types fare: /v6/queue/status/, /v6/load/,
/v6/job-types/status/, /pending/, /running/ and /system-failures/ (A.3, A.12).

Mounted before /v6/job-types/{name}/, whose path would otherwise take these names.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router
from ninja.pagination import paginate

from api.common.pagination import ScalePagination
from api.scale.answers import answers
from api.scale.auth import read_auth
from api.scale.job_schemas import (
    JobTypeFailureOut,
    JobTypePendingOut,
    JobTypeRunningOut,
    JobTypeStatusOut,
    LoadOut,
    QueueStatusOut,
)
from api.scale.params import parse_time, time_param
from domain.jobs import job_selectors, load
from domain.jobs.models import JobStatus

router = Router(tags=["queue"])
READ = (401, 404)


@router.get(
    "/v6/queue/status/", response=answers({200: list[QueueStatusOut]}, *READ), auth=read_auth
)
@paginate(ScalePagination)
def queue_status(request: HttpRequest):
    """Per job type with queued jobs: how many, the longest queued, the highest priority (the
    lowest number); paused job types last."""
    return job_selectors.queue_status()


@router.get("/v6/load/", response=answers({200: list[LoadOut]}, *READ), auth=read_auth)
@paginate(ScalePagination)
def job_load(
    request: HttpRequest, started: str | None = time_param(), ended: str | None = time_param()
):
    """Pending, queued and running counts as measured over time (every minute by default);
    the range is at most 31 days (3 hours back from now by default)."""
    rows = load.job_load(
        started=parse_time(started, name="started"), ended=parse_time(ended, name="ended")
    )
    return [
        {
            "time": r.measured,
            "pending_count": r.pending_count,
            "queued_count": r.queued_count,
            "running_count": r.running_count,
        }
        for r in rows
    ]


@router.get(
    "/v6/job-types/status/",
    response=answers({200: list[JobTypeStatusOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def job_types_status(
    request: HttpRequest,
    started: str | None = time_param(),
    ended: str | None = time_param(),
    is_active: bool | None = Query(None),
):
    """Per job type, its jobs counted by status and error category over their last status
    change in [started, ended] (started: 3 hours ago by default); running jobs always count."""
    return job_selectors.job_type_status(
        started=parse_time(started, name="started"),
        ended=parse_time(ended, name="ended"),
        is_active=is_active,
    )


@router.get(
    "/v6/job-types/pending/",
    response=answers({200: list[JobTypePendingOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def job_types_pending(request: HttpRequest):
    """Job types with PENDING jobs, the longest pending first."""
    rows = job_selectors.job_types_in_status(status=JobStatus.PENDING)
    return [{"job_type": r.job_type, "count": r.count, "longest_pending": r.longest} for r in rows]


@router.get(
    "/v6/job-types/running/",
    response=answers({200: list[JobTypeRunningOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def job_types_running(request: HttpRequest):
    """Job types with RUNNING jobs, the longest running first."""
    rows = job_selectors.job_types_in_status(status=JobStatus.RUNNING)
    return [{"job_type": r.job_type, "count": r.count, "longest_running": r.longest} for r in rows]


@router.get(
    "/v6/job-types/system-failures/",
    response=answers({200: list[JobTypeFailureOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def job_types_system_failures(request: HttpRequest):
    """FAILED jobs with a SYSTEM error per job type and error, the most recent first."""
    return job_selectors.job_type_system_failures()
