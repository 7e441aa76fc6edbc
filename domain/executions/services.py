"""What owners ask of executions: create one, stop one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from domain.common.errors import InvalidInput, NotFound
from domain.common.steps import step_after_commit
from domain.executions import conf
from domain.executions.models import (
    ACTIVE_STATES,
    Execution,
    ExecutionState,
    Outcome,
)
from domain.executions.mounts import Mount
from domain.executions.states import (
    ended_updates,
    execution_event_add,
    execution_transition,
    executions_event_add,
)
from domain.executions.steps import DispatchCluster, StopExecution

MAX_DEADLINE_SECONDS = 365 * 86400


def execution_create(**fields: Any) -> Execution:
    """Queue one attempt to run `command` on `cluster` (the fields of `execution_build`); it
    waits for a free slot in queue order."""
    execution = execution_build(**fields)
    executions_add(executions=[execution])
    return execution


def execution_build(
    *,
    owner_type: str,
    owner_id: str,
    cluster: str,
    command: str,
    env: list[tuple[str, str]],
    image: str = "",
    resources: dict | None = None,
    deadline_seconds: int | None = None,
    labels: dict | None = None,
    priority: int = 100,
    attempt: int = 1,
    mounts: list[Mount] | tuple[Mount, ...] = (),
    stages_files: bool = False,
) -> Execution:
    """An execution checked but not saved: `executions_add` queues it (with others of a batch).
    `mounts` are checked against the allowed host roots by the engine that applies them."""
    if cluster not in conf.clusters():
        raise InvalidInput(f"cluster [{cluster}] is not one of: {', '.join(conf.cluster_names())}")
    deadline = conf.DEFAULT_DEADLINE_SECONDS if deadline_seconds is None else deadline_seconds
    if type(deadline) is not int or not 0 < deadline <= MAX_DEADLINE_SECONDS:
        raise InvalidInput(f"deadline must be between 1 and {MAX_DEADLINE_SECONDS} seconds")
    return Execution(
        owner_type=owner_type,
        owner_id=str(owner_id),
        attempt=attempt,
        cluster=cluster,
        engine=conf.cluster_engine(cluster),
        command=command,
        env=[[str(name), str(value)] for name, value in env],
        image=image,
        resources=resources or {},
        labels=labels or {},
        priority=priority,
        deadline_seconds=deadline,
        mounts=[mount.as_json() for mount in mounts],
        stages_files=stages_files,
    )


def executions_add(*, executions: list[Execution]) -> None:
    """Queue built executions: one insert for the rows, one for their `queued` events, and one
    dispatch per cluster after commit (a scheduler hands out a batch at a time)."""
    if not executions:
        return
    Execution.objects.bulk_create(executions)
    executions_event_add(
        execution_ids=[execution.id for execution in executions],
        kind="transition",
        reason="queued",
    )
    for cluster in sorted({execution.cluster for execution in executions}):
        step_after_commit(DispatchCluster(cluster=cluster))


def executions_delete(*, owner_type: str, owner_ids: Iterable[object]) -> int:
    """Delete the ended executions of owners that are being deleted, with their events and log
    lines. One still open is left to end. Returns how many executions were deleted."""
    ids = [str(owner_id) for owner_id in owner_ids]
    if not ids:
        return 0
    _, per_model = Execution.objects.filter(
        owner_type=owner_type, owner_id__in=ids, state=ExecutionState.ENDED
    ).delete()
    return per_model.get(Execution._meta.label, 0)


def execution_stop(*, execution_id: str, reason: str) -> None:
    """Stop an execution wherever it is. One that never launched (QUEUED, or PENDING with its
    launch message not taken yet) ends at once and never starts; a launched one is killed by its
    host (the supervisor ends it `stopped`); an ended one is left alone."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is None:
            raise NotFound(f"execution {execution_id} not found")
        if _never_launched(execution):
            _end_unlaunched(execution, reason)
            return
        if execution.state not in ACTIVE_STATES or execution.stop_requested_at is not None:
            return
        execution.stop_requested_at = timezone.now()
        execution.stop_reason = reason
        execution.save(update_fields=["stop_requested_at", "stop_reason"])
        execution_event_add(
            execution_id=execution_id, kind="stop", reason="stop asked", message=reason
        )
        step_after_commit(
            StopExecution(execution_id=execution_id, queue=conf.launch_queue(execution.host))
        )


def _never_launched(execution: Execution) -> bool:
    # The launch claims `launch_started_at` with a compare-and-set on this row, which waits for
    # our row lock and then finds the execution ended: it can no longer start.
    return execution.state == ExecutionState.QUEUED or (
        execution.state == ExecutionState.PENDING and execution.launch_started_at is None
    )


def _end_unlaunched(execution: Execution, reason: str) -> None:
    source = execution.state
    execution_transition(
        execution_id=execution.id,
        target=ExecutionState.ENDED,
        allowed_from=[source],
        updates=ended_updates(outcome=Outcome.STOPPED, exit_code=None, reason=reason),
        reason="stopped before launch",
        message=reason,
        locked=execution,
    )
    if source == ExecutionState.PENDING:
        # It held a slot: the next queued execution may have it.
        step_after_commit(DispatchCluster(cluster=execution.cluster))
