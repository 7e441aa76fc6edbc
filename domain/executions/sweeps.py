"""Beat's sweeps over executions: lost hosts, deadlines and lost launch messages.

Each finds due rows and calls the same transitions as everything else, so a sweep racing a
supervisor's own report is a compare-and-set that only one of them wins.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.executions import conf
from domain.executions.launches import execution_end
from domain.executions.models import ACTIVE_STATES, Execution, ExecutionState, Outcome
from domain.executions.steps import DispatchCluster, LaunchExecution

SWEEP_LIMIT = 500


def sweep_lost(*, timeout: float | None = None) -> list[str]:
    """Active executions on hosts whose supervisor stopped reporting: the host is gone."""
    timeout = conf.HEARTBEAT_TIMEOUT if timeout is None else timeout
    since = timezone.now() - timedelta(seconds=timeout)
    lost = list(
        Execution.objects.filter(state__in=ACTIVE_STATES, heartbeat_at__lt=since)
        .exclude(launch_started_at__isnull=True)
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    ended = []
    for execution_id in lost:
        if execution_end(
            execution_id=execution_id,
            outcome=Outcome.LOST,
            exit_code=None,
            reason=f"worker lost: no heartbeat for {timeout:g} seconds",
        ):
            ended.append(execution_id)
    return ended


def sweep_deadlines() -> list[str]:
    """Executions past their deadline whose engine did not stop them (the supervisor enforces
    its own; this catches remote engines and a supervisor that could not)."""
    now = timezone.now()
    due = list(
        Execution.objects.filter(state=ExecutionState.RUNNING, deadline_at__lt=now).values_list(
            "id", "deadline_seconds"
        )[:SWEEP_LIMIT]
    )
    ended = []
    for execution_id, seconds in due:
        if execution_end(
            execution_id=execution_id,
            outcome=Outcome.TIMED_OUT,
            exit_code=None,
            reason=f"JobRun exceeded specified timeout of {seconds} seconds",
        ):
            ended.append(execution_id)
    return ended


def reconcile(*, launch_timeout: float | None = None) -> dict[str, int]:
    """Re-drive what a lost message stranded: dispatch every cluster with queued executions, and
    re-send the launch of a PENDING execution whose launch never began (the launch is claimed
    once in the database, so a second message cannot start it twice)."""
    launch_timeout = conf.LAUNCH_TIMEOUT if launch_timeout is None else launch_timeout
    clusters = set(
        Execution.objects.filter(state=ExecutionState.QUEUED)
        .values_list("cluster", flat=True)
        .distinct()
    )
    for cluster in clusters:
        step_after_commit(DispatchCluster(cluster=cluster))
    since = timezone.now() - timedelta(seconds=launch_timeout)
    stranded = list(
        Execution.objects.filter(
            Q(state=ExecutionState.PENDING),
            Q(launch_started_at__isnull=True),
            Q(pending_at__lt=since),
        ).values_list("id", "host")[:SWEEP_LIMIT]
    )
    for execution_id, host in stranded:
        step_after_commit(LaunchExecution(execution_id=execution_id, queue=conf.launch_queue(host)))
    return {"clusters": len(clusters), "relaunched": len(stranded)}
