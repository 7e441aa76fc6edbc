"""Execution canvases: one message per step of domain/executions/steps.py.

    DispatchCluster ─► executions.dispatch            (domain: execution_dispatch)
    LaunchExecution ─► executions.launch on the host's queue ─► supervisor (engines/supervisor.py)
                       (or, in a worker of that host, the launch at once: engines/launching.py)
    StopExecution   ─► executions.stop on the host's queue ─► SIGUSR1 to the supervisor

Nothing waits on these messages; a lost one is re-driven by `executions.reconcile` from the
database (queued → dispatch, pending and never launched → launch again).
"""

from __future__ import annotations

from domain.common.steps import step_handler
from domain.executions import steps
from orchestrator.celery import app
from orchestrator.engines.launching import launch_if_served_here


@step_handler(steps.DispatchCluster)
def dispatch(step: steps.DispatchCluster) -> None:
    app.signature("executions.dispatch", args=(step.cluster,)).apply_async(ignore_result=True)


@step_handler(steps.LaunchExecution)
def launch(step: steps.LaunchExecution) -> None:
    if launch_if_served_here(execution_id=step.execution_id, queue=step.queue):
        return
    _to_host(app.signature("executions.launch", args=(step.execution_id,)), step.queue)


@step_handler(steps.StopExecution)
def stop(step: steps.StopExecution) -> None:
    _to_host(app.signature("executions.stop", args=(step.execution_id,)), step.queue)


def _to_host(signature, queue: str) -> None:
    # Through the default exchange, as every queue (celeryconfig.DIRECT): a host's queue is made
    # at run time, and a named exchange's binding would not survive a broker flush.
    signature.apply_async(queue=queue, exchange="", routing_key=queue, ignore_result=True)
