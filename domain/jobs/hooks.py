"""How a job follows its executions: the owner hook of "jobs.job" executions, called inside the
execution's transition transaction, so the job moves in the same commit (A.9, A.10).

    execution RUNNING → job QUEUED → RUNNING (started, node)
    execution ENDED   → the error it means (none for exit 0 with its outputs found):
        exited 0          → COMPLETED, or the outputs' error (missing-required-output, …)
        exited N          → the manifest's error for code N, else algorithm-unknown
        oom               → resource-starvation      timed_out → timeout (system-timeout)
        lost              → node-lost                launch_failed → task-launch
        stopped           → the job was canceled (nothing more), else unknown
      an error that should be retried, with tries left → QUEUED again (a new execution number)
      else → FAILED with the error

A report about an execution that is not the job's current one (an older execution number) is
stale and changes nothing but that execution's own record.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.executions.owners import owner_hook
from domain.jobs.error_catalog import builtin_error
from domain.jobs.job_states import ENDABLE, job_transition, queued_updates
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Error, Job, JobExecution, JobStatus
from domain.jobs.steps import ScheduleJobs

S = JobStatus
OUTCOME_ERRORS = {
    "oom": "resource-starvation",
    "lost": "node-lost",
    "launch_failed": "task-launch",
    "stopped": "unknown",
}


@owner_hook("jobs.job")
def on_execution(execution: Any, source: str, target: str) -> None:
    job = (
        Job.objects.select_for_update()
        .select_related("job_type")
        .filter(pk=execution.owner_id)
        .first()
    )
    if job is None:
        return
    current = job.execution_id == execution.id and job.num_exes == execution.attempt
    if target == "RUNNING" and current:
        _running(job, execution)
    elif target == "ENDED":
        _ended(job, execution, current=current)


def _running(job: Job, execution: Any) -> None:
    job_transition(
        job_id=job.pk,
        target=S.RUNNING,
        allowed_from=[S.QUEUED],
        event_type="EXECUTION",
        updates={"started": execution.started_at or timezone.now(), "node": execution.host},
        description=f"execution {job.num_exes} started on {execution.host}",
        locked=job,
    )


def _ended(job: Job, execution: Any, *, current: bool) -> None:
    record = JobExecution.objects.select_for_update().filter(execution_id=execution.id).first()
    if record is None:
        return
    error = (
        None if job.status == S.CANCELED and current else execution_error(job, execution, record)
    )
    record.error = error
    record.ended = execution.finished_at or timezone.now()
    record.status = _record_status(job, error, current)
    record.save(update_fields=["error", "ended", "status"])
    # A freed slot: the next queued job need not wait for the beat.
    step_after_commit(ScheduleJobs())
    if not current or job.status not in ENDABLE:
        return
    if error is None:
        _completed(job, record)
    elif error.should_be_retried and job.num_exes < job.max_tries and not job.is_superseded:
        _retry(job, error)
    else:
        _failed(job, error)


def _record_status(job: Job, error: Error | None, current: bool) -> str:
    if current and job.status == S.CANCELED:
        return S.CANCELED
    return S.FAILED if error is not None else S.COMPLETED


def execution_error(job: Job, execution: Any, record: JobExecution) -> Error | None:
    """The error an execution's end means for its job; None when it succeeded."""
    outcome, code = execution.outcome, execution.exit_code
    if outcome == "exited" and code == 0:
        name = record.output_error or _uncollected(job, record)
        return _builtin(name) if name else None
    if outcome == "exited":
        return _mapped(job, code) or _builtin("algorithm-unknown")
    if outcome == "timed_out":
        return _builtin("system-timeout" if job.job_type.is_system else "timeout")
    return _builtin(OUTCOME_ERRORS.get(outcome, "unknown"))


def _uncollected(job: Job, record: JobExecution) -> str:
    # No collect step ran (an engine without a scratch directory here): required outputs are
    # missing.
    if record.output:
        return ""
    manifest = SeedManifest(job.job_type_rev.manifest)
    required = [o for o in manifest.output_files + manifest.output_json if o["required"]]
    return "missing-required-output" if required else ""


def _mapped(job: Job, code: int | None) -> Error | None:
    manifest = SeedManifest(job.job_type_rev.manifest)
    for declared in manifest.errors:
        if declared["code"] == code:
            return Error.objects.filter(
                job_type_name=job.job_type.name, name=declared["name"]
            ).first()
    return None


def _builtin(name: str) -> Error:
    return builtin_error(name)


def _completed(job: Job, record: JobExecution) -> None:
    output = record.output or {"files": {}, "json": {}}
    job_transition(
        job_id=job.pk,
        target=S.COMPLETED,
        allowed_from=ENDABLE,
        event_type="EXECUTION",
        updates={"output": output, "ended": record.ended, "error": None},
        description=f"execution {job.num_exes} completed",
        locked=job,
    )


def _retry(job: Job, error: Error) -> None:
    now = timezone.now()
    job_transition(
        job_id=job.pk,
        target=S.QUEUED,
        allowed_from=ENDABLE,
        event_type="RETRY",
        updates=lambda j: queued_updates(j, now=now),
        description=f"execution {job.num_exes} failed with {error.name}; retried",
        locked=job,
    )


def _failed(job: Job, error: Error) -> None:
    job_transition(
        job_id=job.pk,
        target=S.FAILED,
        allowed_from=ENDABLE,
        event_type="EXECUTION",
        updates={"error": error, "ended": timezone.now()},
        description=f"execution {job.num_exes} failed with {error.name}",
        locked=job,
    )
