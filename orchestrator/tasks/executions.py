"""Thin Celery adapters of the executions aggregate.

Canvases: orchestrator/lifecycles/executions.py.

`executions.launch` and `executions.stop` are declared on the `executions` queue and sent to
the queue of the host that holds the slot (`executions.host.<name>`), which only that host's
workers consume (orchestrator/engines/hosting.py).
"""

from __future__ import annotations

import logging
import os
import signal

from domain.executions import dispatch, launches, selectors, sweeps
from domain.executions.models import ExecutionState, Outcome
from orchestrator.engines import engine_named, is_host_engine
from orchestrator.engines import hosting as _hosting  # noqa: F401 (worker signals)
from orchestrator.engines.base import EngineUnavailable
from orchestrator.engines.launching import launch_here
from orchestrator.engines.remote import remote_poll
from orchestrator.taskkit import RETRIED_ON_DATABASE_ERRORS, TransientError, regatta_task

logger = logging.getLogger(__name__)


# Idempotent: it moves only QUEUED executions, under the host's row lock.
@regatta_task("executions.dispatch", queue="executions", **RETRIED_ON_DATABASE_ERRORS)
def dispatch_cluster(self, cluster: str) -> int:
    return dispatch.execution_dispatch(cluster=cluster)


@regatta_task(
    "executions.launch",
    queue="executions",
    autoretry_for=(TransientError,),
    max_retries=5,
)
def launch(self, execution_id: str) -> str:
    return launch_here(execution_id)


@regatta_task("executions.stop", queue="executions", autoretry_for=(EngineUnavailable,))
def stop(self, execution_id: str) -> str:
    """On the execution's host: wake its supervisor, which stops the command and ends it. For
    one that ended without its supervisor (swept as lost), kill whatever is left of it."""
    execution = selectors.execution_get(execution_id=execution_id)
    engine = engine_named(execution.engine)
    if not is_host_engine(execution.engine):
        return _stop_remote(execution, engine)
    if execution.state == ExecutionState.ENDED:
        reap = getattr(engine, "reap", None)
        if reap is not None:
            reap(execution.id)
        return "ended; leftovers reaped"
    pid = execution.engine_ref.get("supervisor_pid")
    if pid:
        try:
            os.kill(int(pid), signal.SIGUSR1)
        except ProcessLookupError:
            return "supervisor gone (the heartbeat sweep ends it)"
    return "signalled"


def _stop_remote(execution, engine) -> str:
    if execution.state == ExecutionState.ENDED:
        return "ended already"
    engine.stop(execution.engine_ref)
    # The engine forgets a deleted Job: nobody else would ever see it end.
    launches.execution_end(
        execution_id=execution.id,
        outcome=Outcome.STOPPED,
        exit_code=None,
        reason=execution.stop_reason or "stopped",
    )
    return "deleted"


@regatta_task("executions.sweep_lost", queue="executions")
def sweep_lost(self, timeout: float | None = None, host_timeout: float | None = None) -> int:
    return len(sweeps.sweep_lost(timeout=timeout, host_timeout=host_timeout))


@regatta_task("executions.sweep_deadlines", queue="executions")
def sweep_deadlines(self, grace: float | None = None) -> int:
    return len(sweeps.sweep_deadlines(grace=grace))


@regatta_task("executions.reconcile", queue="executions")
def reconcile(self, launch_timeout: float | None = None) -> dict:
    return sweeps.reconcile(launch_timeout=launch_timeout)


@regatta_task("executions.poll_remote", queue="executions")
def poll_remote(self) -> int:
    return remote_poll()
