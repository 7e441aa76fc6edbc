"""A job whose configuration lacks what its manifest declares does not run
(specs/scale-and-flotilla.md A.10). The scheduler, about to give it an execution, ends it FAILED
with a builtin SYSTEM error that is never retried, and its event row names what is missing:

    a manifest mount the job's configuration does not configure   → missing-mount (checked first)
    a manifest setting with no value (a secret one: none in the
      secret store; an empty value is no value)                   → missing-setting

The configuration checked is the one the job runs with: its job type's as it was queued, field
by field under the job's own (domain/jobs/queueing.py, seed_env.py). Registration and
/validation only warn (MISSING_MOUNT / MISSING_SETTING): a type may be registered incomplete
and completed per job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.jobs.configuration import missing_mounts, missing_settings
from domain.jobs.error_catalog import builtin_error
from domain.jobs.job_states import job_transition
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Error, Job, JobStatus, JobType
from domain.jobs.selectors import job_types_secret_names
from domain.jobs.steps import ScheduleJobs

logger = logging.getLogger(__name__)
MISSING_MOUNT, MISSING_SETTING = "missing-mount", "missing-setting"


@dataclass(frozen=True)
class ConfigGap:
    """What a job's configuration lacks: the builtin error it means and the names missing."""

    error: str
    names: tuple[str, ...]

    @property
    def description(self) -> str:
        kind = "mount" if self.error == MISSING_MOUNT else "setting"
        listed = ", ".join(f"'{name}'" for name in self.names)
        plural = "s" if len(self.names) > 1 else ""
        return f"{self.error}: {kind}{plural} {listed} not configured"


def config_gap(
    job: Job, manifest: SeedManifest, stored_secrets: frozenset[str]
) -> ConfigGap | None:
    """The first gap of `job`'s configuration (mounts before settings), None when it has all."""
    mounts = missing_mounts(job.configuration, manifest)
    if mounts:
        return ConfigGap(MISSING_MOUNT, tuple(mounts))
    settings = missing_settings(job.configuration, manifest, stored_secrets)
    if settings:
        return ConfigGap(MISSING_SETTING, tuple(settings))
    return None


def jobs_unconfigured_fail(
    *, jobs: list[Job], manifests: dict[int, SeedManifest], job_types: dict[int, JobType]
) -> list[Job]:
    """Fail each of `jobs` (locked, QUEUED, without an execution; `manifests` by revision id)
    whose configuration has a gap; return the others, in their order, to be scheduled. The
    check reads nothing per job: one query of the secret store for the pass's job types that
    declare secret settings. A job failed writes its own transition (three statements), as
    every ending of a job does."""
    secrets = _stored_secrets(jobs, manifests, job_types)
    errors: dict[str, Error] = {}
    runnable = []
    for job in jobs:
        manifest = manifests[job.job_type_rev_id]
        gap = config_gap(job, manifest, secrets.get(job.job_type_id, frozenset()))
        if gap is None:
            runnable.append(job)
            continue
        if gap.error not in errors:
            errors[gap.error] = builtin_error(gap.error)
        _fail(job, gap, errors[gap.error])
    if len(runnable) < len(jobs):
        # Their slots went unused this pass: the jobs behind them need not wait for the beat.
        step_after_commit(ScheduleJobs())
    return runnable


def _stored_secrets(
    jobs: list[Job], manifests: dict[int, SeedManifest], job_types: dict[int, JobType]
) -> dict[int, frozenset[str]]:
    with_secrets = {
        job.job_type_id for job in jobs if manifests[job.job_type_rev_id].secret_setting_names
    }
    if not with_secrets:
        return {}
    return job_types_secret_names(job_types=[job_types[pk] for pk in sorted(with_secrets)])


def _fail(job: Job, gap: ConfigGap, error: Error) -> None:
    logger.info("job %s not run: %s", job.pk, gap.description)
    job_transition(
        job_id=job.pk,
        target=JobStatus.FAILED,
        allowed_from=[JobStatus.QUEUED],
        event_type="EXECUTION",
        updates={"error": error, "ended": timezone.now()},
        description=f"execution {job.num_exes} not started: {gap.description}",
        locked=job,
    )
