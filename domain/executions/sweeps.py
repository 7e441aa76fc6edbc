"""Beat's sweeps over executions: lost hosts, deadlines and lost launch messages.

Each finds due rows and calls the same transitions as everything else, so a sweep racing a
supervisor's own report is a compare-and-set that only one of them wins. Their knobs are
arguments: the beat's schedule passes its own settings, so whichever worker runs a sweep, it
sweeps by the same rule.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.executions import conf
from domain.executions.launches import execution_end
from domain.executions.models import ACTIVE_STATES, Execution, ExecutionState, Host, Outcome
from domain.executions.steps import DispatchCluster, LaunchExecution, StopExecution

SWEEP_LIMIT = 500


def sweep_lost(*, timeout: float | None = None, host_timeout: float | None = None) -> list[str]:
    """Executions on a host engine that nobody runs any more: launched ones whose supervisor
    stopped heartbeating, and PENDING ones whose host went silent before taking the launch (the
    message waits on a queue nobody reads). Remote engines' executions are the poller's: a Job
    that disappears is found MISSING there."""
    timeout = conf.HEARTBEAT_TIMEOUT if timeout is None else timeout
    host_timeout = conf.HOST_TIMEOUT if host_timeout is None else host_timeout
    since = timezone.now() - timedelta(seconds=timeout)
    silent = Q(launch_started_at__isnull=False, heartbeat_at__lt=since)
    unlaunched = Q(launch_started_at__isnull=True, pending_at__lt=since) & ~Q(
        host__in=_live_hosts(host_timeout)
    )
    lost = list(
        Execution.objects.filter(engine__in=conf.HOST_ENGINES, state__in=ACTIVE_STATES)
        .filter(silent | (Q(state=ExecutionState.PENDING) & unlaunched))
        .values_list("id", "launch_started_at", "host")[:SWEEP_LIMIT]
    )
    ended = []
    for execution_id, launched, host in lost:
        queue = conf.launch_queue(host)
        reason = (
            f"worker lost: no heartbeat for {timeout:g} seconds"
            if launched
            else f"worker lost: its host stopped answering before it launched ({timeout:g} s)"
        )
        if execution_end(
            execution_id=execution_id, outcome=Outcome.LOST, exit_code=None, reason=reason
        ):
            ended.append(execution_id)
            # Its host kills whatever is left of it, so that a retry by its owner never runs
            # beside it.
            step_after_commit(StopExecution(execution_id=execution_id, queue=queue))
    return ended


def _live_hosts(host_timeout: float):
    since = timezone.now() - timedelta(seconds=host_timeout)
    return Host.objects.filter(heartbeat_at__gte=since).values("name")


def sweep_deadlines(*, grace: float | None = None) -> list[str]:
    """Executions past their deadline whose engine did not stop them. A remote engine's are
    ended at the deadline; a supervisor enforces its own (and reports the exit code), so a host
    engine's are ended here only `grace` seconds later, when their supervisor could not."""
    grace = conf.STOP_GRACE + conf.HEARTBEAT_TIMEOUT if grace is None else grace
    now = timezone.now()
    due = list(
        Execution.objects.filter(state=ExecutionState.RUNNING)
        .filter(
            Q(deadline_at__lt=now, engine__in=_remote_engines())
            | Q(deadline_at__lt=now - timedelta(seconds=grace), engine__in=conf.HOST_ENGINES)
        )
        .values_list("id", "deadline_seconds")[:SWEEP_LIMIT]
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


def _remote_engines() -> list[str]:
    return [name for name in conf.ENGINES if name not in conf.HOST_ENGINES]


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
            state=ExecutionState.PENDING, launch_started_at__isnull=True, pending_at__lt=since
        ).values_list("id", "host")[:SWEEP_LIMIT]
    )
    for execution_id, host in stranded:
        step_after_commit(LaunchExecution(execution_id=execution_id, queue=conf.launch_queue(host)))
    return {"clusters": len(clusters), "relaunched": len(stranded)}
