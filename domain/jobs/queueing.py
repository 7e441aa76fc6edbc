"""Where jobs enter the queue: a new job (POST /v6/jobs/, A.12), and cancel and requeue by filter
(POST /v6/jobs/cancel/ and /requeue/).

A new job takes its job type's latest revision, `max_tries`, and configuration field by field
under its own (A.8); it is PENDING for an instant and QUEUED in the same transaction, so the queue
sees it whole. Requeue gives a fresh budget of tries: `max_tries = num_exes + type's max_tries`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from domain.common.errors import InvalidInput
from domain.common.steps import step_after_commit
from domain.executions import conf as executions_conf
from domain.executions.services import execution_stop
from domain.jobs import conf
from domain.jobs.configuration import configuration_check, configuration_parse
from domain.jobs.job_inputs import job_input_parse, job_resources
from domain.jobs.job_states import CANCELABLE, REQUEUEABLE, job_transition, queued_updates
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Job, JobStatus, JobType, JobTypeRevision
from domain.jobs.secret_store import secret_names
from domain.jobs.seed_env import input_stages_files
from domain.jobs.steps import ScheduleJobs

S = JobStatus
PRIORITY_MAX = 2**31 - 1
BULK_BATCH = 500


def job_queue_new(*, job_type_id: int, data: Any, configuration: Any = None) -> Job:
    """Queue a job of an active job type with `data` (Data JSON) and an optional configuration
    whose missing fields come from the job type's."""
    job_type = JobType.objects.filter(pk=job_type_id).first()
    if job_type is None:
        raise InvalidInput(f"job_type_id: no job type with id {job_type_id}")
    if not job_type.is_active:
        raise InvalidInput(f"job type {job_type.name} {job_type.version} is not active")
    manifest = SeedManifest(job_type.manifest)
    stored, input_mib = job_input_parse(data, manifest)
    _staging_check(job_type, manifest, stored)
    config = _job_configuration(job_type, manifest, configuration)
    with transaction.atomic():
        revision = JobTypeRevision.objects.get(
            job_type=job_type, revision_num=job_type.revision_num
        )
        job = Job.objects.create(
            job_type=job_type,
            job_type_rev=revision,
            status=S.PENDING,
            priority=config["priority"],
            max_tries=job_type.max_tries,
            input=stored,
            input_file_size=input_mib,
            configuration=config,
            resources=job_resources(manifest, input_mib),
            last_status_change=timezone.now(),
        )
        now = timezone.now()
        job_transition(
            job_id=job.pk,
            target=S.QUEUED,
            allowed_from=[S.PENDING],
            event_type="USER",
            updates=lambda j: queued_updates(j, now=now),
            description="queued by a user",
            locked=job,
        )
        step_after_commit(ScheduleJobs())
    return job


def _staging_check(job_type: JobType, manifest: SeedManifest, stored: dict[str, Any]) -> None:
    """A job with files to stage cannot run on a cluster no Regatta host serves (kubernetes):
    refused here, with the reason, rather than failing every launch until `max_tries`."""
    cluster = conf.jobs_cluster()
    engine = executions_conf.clusters().get(cluster, {}).get("engine")
    if engine in (None, *executions_conf.HOST_ENGINES):
        return
    if not input_stages_files(stored, manifest):
        return
    raise InvalidInput(
        f"job type {job_type.name} {job_type.version} has file inputs or outputs (or json"
        f" outputs, read from a file), and the jobs cluster {cluster} runs on {engine}, which"
        " cannot stage files: run it on a local or docker cluster (SCALE_JOBS_CLUSTER)"
    )


def _job_configuration(job_type: JobType, manifest: SeedManifest, given: Any) -> dict[str, Any]:
    base = configuration_parse(job_type.configuration)
    if given is None:
        return base
    config = configuration_parse(given, base=base)
    secrets = secret_names(key=job_type.secrets_key)
    configuration_check(config, manifest, stored_secrets=secrets)
    # Secret values live in the secret store only: a job cannot bring its own.
    for name in manifest.secret_setting_names & set(config["settings"]):
        raise InvalidInput(f"configuration.settings.{name} is a secret: set it on the job type")
    return config


def jobs_cancel(*, jobs: QuerySet[Job]) -> int:
    """Cancel every job of `jobs` that may be; an open execution is stopped (its process too).
    Returns how many were canceled."""
    canceled = 0
    for ids in _batches(jobs.filter(status__in=CANCELABLE)):
        with transaction.atomic():
            for job in Job.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
                canceled += _cancel(job)
    return canceled


def _cancel(job: Job) -> int:
    result = job_transition(
        job_id=job.pk,
        target=S.CANCELED,
        allowed_from=CANCELABLE,
        event_type="CANCEL",
        updates={"ended": timezone.now()},
        description="canceled by a user",
        locked=job,
    )
    if result.applied and job.execution_id:
        execution_stop(execution_id=job.execution_id, reason="the job was canceled")
    return int(result.applied)


def jobs_requeue(*, jobs: QuerySet[Job], priority: int | None = None) -> int:
    """Queue again every FAILED or CANCELED job of `jobs` that was queued before, with a fresh
    budget of tries (and `priority` when given)."""
    if priority is not None and not 1 <= priority <= PRIORITY_MAX:
        raise InvalidInput(f"priority must be from 1 to {PRIORITY_MAX}")
    requeued = 0
    candidates = jobs.filter(status__in=REQUEUEABLE, num_exes__gt=0, is_superseded=False)
    for ids in _batches(candidates):
        with transaction.atomic():
            jobs_locked = Job.objects.select_for_update().select_related("job_type")
            for job in jobs_locked.filter(pk__in=ids).order_by("pk"):
                requeued += _requeue(job, priority)
    if requeued:
        step_after_commit(ScheduleJobs())
    return requeued


def _requeue(job: Job, priority: int | None) -> int:
    now = timezone.now()

    def updates(locked: Job) -> dict[str, Any]:
        fresh = {
            **queued_updates(locked, now=now),
            "max_tries": locked.num_exes + locked.job_type.max_tries,
        }
        if priority is not None:
            fresh["priority"] = priority
        return fresh

    result = job_transition(
        job_id=job.pk,
        target=S.QUEUED,
        allowed_from=REQUEUEABLE,
        event_type="REQUEUE",
        updates=updates,
        description="requeued by a user",
        locked=job,
    )
    return int(result.applied)


def _batches(jobs: QuerySet[Job]) -> list[list[int]]:
    ids = list(jobs.order_by("pk").values_list("pk", flat=True))
    return [ids[i : i + BULK_BATCH] for i in range(0, len(ids), BULK_BATCH)]
