"""What the engine side reports: a launch begins, the command runs, it is alive, it ended.

The supervisor of a host engine and the sweeps of a remote engine call these; each is a
compare-and-set, so a redelivered launch or a late report changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.executions import conf
from domain.executions.logs import execution_log_append
from domain.executions.models import ACTIVE_STATES, Execution, ExecutionState, Outcome
from domain.executions.mounts import Mount, mounts_parse
from domain.executions.selectors import executions_queued
from domain.executions.states import ended_updates, execution_transition
from domain.executions.steps import DispatchCluster


@dataclass(frozen=True)
class LaunchOrder:
    """Everything the engine needs to start one execution (no model objects leave domain/)."""

    execution_id: str
    cluster: str
    engine: str
    command: str
    env: list[tuple[str, str]]
    image: str
    resources: dict
    deadline_seconds: int
    labels: dict
    engine_ref: dict
    # Whose execution it is ("runs.run", "jobs.job"): the engine side finds the owner's
    # scratch-directory hooks by it (domain/executions/owners.py).
    owner_type: str = ""
    mounts: tuple[Mount, ...] = ()
    stages_files: bool = False


def execution_launch_begin(*, execution_id: str) -> LaunchOrder | None:
    """Claim the one launch of a PENDING execution. None when it is not PENDING any more, or a
    launch began already (a redelivered message): the command must never start twice."""
    now = timezone.now()
    claimed = Execution.objects.filter(
        pk=execution_id, state=ExecutionState.PENDING, launch_started_at__isnull=True
    ).update(launch_started_at=now, heartbeat_at=now)
    if claimed != 1:
        return None
    execution = Execution.objects.get(pk=execution_id)
    return LaunchOrder(
        execution_id=execution.id,
        cluster=execution.cluster,
        engine=execution.engine,
        command=execution.command,
        env=[(name, value) for name, value in execution.env],
        image=execution.image,
        resources=execution.resources,
        deadline_seconds=execution.deadline_seconds,
        labels=execution.labels,
        engine_ref=execution.engine_ref,
        owner_type=execution.owner_type,
        mounts=mounts_parse(execution.mounts),
        stages_files=execution.stages_files,
    )


@dataclass(frozen=True)
class Started:
    """What the supervisor learns when it records the start: whether the execution runs, and
    the stop asked for meanwhile (a stop asked while it was PENDING had no process to signal)."""

    running: bool
    stop_reason: str | None


def execution_mark_running(*, execution_id: str, engine_ref: dict) -> bool:
    """The engine has the command. False when the execution ended meanwhile (stopped): the
    caller must stop what it started."""
    return execution_started(execution_id=execution_id, engine_ref=engine_ref).running


def execution_started(*, execution_id: str, engine_ref: dict) -> Started:
    """PENDING → RUNNING with the engine's reference, and the stop check of a first heartbeat
    read from the same locked row (one transaction where a start took two round trips more)."""
    now = timezone.now()

    def updates(execution: Execution) -> dict:
        return {
            "engine_ref": engine_ref,
            "started_at": now,
            "heartbeat_at": now,
            "deadline_at": now + timedelta(seconds=execution.deadline_seconds),
        }

    result = execution_transition(
        execution_id=execution_id,
        target=ExecutionState.RUNNING,
        allowed_from=[ExecutionState.PENDING],
        updates=updates,
        reason="started",
    )
    running = result.applied or result.source == ExecutionState.RUNNING
    row = result.obj
    return Started(
        running=running, stop_reason=_stop_reason(row.stop_requested_at, row.stop_reason)
    )


def execution_submitted(*, execution_id: str, engine_ref: dict) -> None:
    """A remote engine accepted it; it stays PENDING until the engine says it runs."""
    Execution.objects.filter(pk=execution_id, state=ExecutionState.PENDING).update(
        engine_ref=engine_ref, heartbeat_at=timezone.now()
    )


def execution_heartbeat(*, execution_id: str) -> str | None:
    """The supervisor is alive. Returns the stop reason when a stop was asked for, else None."""
    now = timezone.now()
    Execution.objects.filter(pk=execution_id, state__in=ACTIVE_STATES).update(heartbeat_at=now)
    row = (
        Execution.objects.filter(pk=execution_id)
        .values("stop_requested_at", "stop_reason", "state")
        .first()
    )
    if row is None or row["state"] == ExecutionState.ENDED:
        return "ended"
    return _stop_reason(row["stop_requested_at"], row["stop_reason"])


def _stop_reason(requested_at, reason: str) -> str | None:
    return reason or "stopped" if requested_at else None


def execution_end(
    *,
    execution_id: str,
    outcome: Outcome,
    exit_code: int | None,
    reason: str,
    usage: dict | None = None,
    log_lines: list[str] | None = None,
    log_stderr: list[int] | None = None,
    log_first_line: int = 0,
) -> bool:
    """The command is over. Frees its slot: the cluster's next queued execution is dispatched.
    `log_lines` (numbered from `log_first_line`; `log_stderr` the indexes of those from stderr)
    are the output not stored yet: they are stored
    in the same transaction, so the end is never visible before the last lines."""
    with transaction.atomic():
        if log_lines:
            execution_log_append(
                execution_id=execution_id,
                first_line=log_first_line,
                lines=log_lines,
                stderr=log_stderr,
            )
        result = execution_transition(
            execution_id=execution_id,
            target=ExecutionState.ENDED,
            allowed_from=[ExecutionState.PENDING, ExecutionState.RUNNING],
            updates=ended_updates(outcome=outcome, exit_code=exit_code, reason=reason, usage=usage),
            reason=outcome,
            message=reason,
        )
        if result.applied:
            cluster = result.obj.cluster
            # Only when an execution waits: asked after the commit, so one queued before it is
            # seen, and one queued after it is dispatched by its own creator onto the free slot.
            step_after_commit(
                DispatchCluster(cluster=cluster),
                only_if=partial(executions_queued, cluster=cluster),
            )
        return result.applied


def launch_refused_reason(error: Exception) -> str:
    return f"the engine refused to launch it: {error}"[:2000]


def execution_launch_retry(*, execution_id: str, reason: str) -> bool:
    """The engine could not take it now (`reason`): let a later launch message try again, and
    return True. Once EXECUTIONS_LAUNCH_GIVE_UP has passed since its slot was claimed, end it
    launch_failed with the reason instead, and return False."""
    given_up_before = timezone.now() - timedelta(seconds=conf.LAUNCH_GIVE_UP)
    waited_too_long = Execution.objects.filter(
        pk=execution_id, state=ExecutionState.PENDING, pending_at__lt=given_up_before
    ).exists()
    if waited_too_long:
        execution_end(
            execution_id=execution_id,
            outcome=Outcome.LAUNCH_FAILED,
            exit_code=None,
            reason=(
                f"the engine could not take it for {conf.LAUNCH_GIVE_UP:g} s "
                f"(EXECUTIONS_LAUNCH_GIVE_UP); its last answer: {reason}"
            )[:2000],
        )
        return False
    Execution.objects.filter(pk=execution_id, state=ExecutionState.PENDING).update(
        launch_started_at=None
    )
    return True


def execution_remote_running(*, execution_id: str, started_at=None, engine_ref: dict) -> None:
    """A remote engine says the command runs (PENDING → RUNNING, once)."""
    start = started_at or timezone.now()

    def updates(execution: Execution) -> dict:
        return {
            "engine_ref": {**execution.engine_ref, **engine_ref},
            "started_at": start,
            "heartbeat_at": timezone.now(),
            "deadline_at": start + timedelta(seconds=execution.deadline_seconds),
        }

    execution_transition(
        execution_id=execution_id,
        target=ExecutionState.RUNNING,
        allowed_from=[ExecutionState.PENDING],
        updates=updates,
        reason="started",
    )
