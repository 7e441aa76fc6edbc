"""Launching a PENDING execution on the host whose slot it holds.

`executions.launch` (on the host's own queue) calls `launch_here`. When the dispatch that gave
the slot runs in a worker of that very host, the launch happens there at once, after the
dispatch commits, instead of a second message through the broker (a hop on the path of every
run). Either way `execution_launch_begin` claims the launch once in the database, so a launch
message that arrives too (a reconciler's re-send) does nothing.
"""

from __future__ import annotations

import logging

from domain.executions import launches
from domain.executions.models import Outcome
from orchestrator.engines import engine_named, hosting, is_host_engine, launch_spec
from orchestrator.engines.base import EngineUnavailable, LaunchRefused
from orchestrator.engines.supervisor import supervisor_spawn

logger = logging.getLogger(__name__)


def launch_here(execution_id: str) -> str:
    """Start the execution on this host (a supervisor) or hand it to its remote engine."""
    order = launches.execution_launch_begin(execution_id=execution_id)
    if order is None:
        return "already launched or no longer pending"
    engine = engine_named(order.engine)
    if is_host_engine(order.engine):
        supervisor_spawn(order=order, engine=engine, spec_builder=launch_spec)
        return "supervised"
    try:
        ref = engine.launch(launch_spec(order))
    except LaunchRefused as exc:
        launches.execution_end(
            execution_id=execution_id,
            outcome=Outcome.LAUNCH_FAILED,
            exit_code=None,
            reason=launches.launch_refused_reason(exc),
        )
        return "refused"
    except EngineUnavailable as exc:
        # Unclaim, so the reconciler's re-sent launch may try again (until the give-up time).
        if not launches.execution_launch_retry(execution_id=execution_id, reason=str(exc)):
            return "gave up"
        raise
    launches.execution_submitted(execution_id=execution_id, engine_ref=ref)
    return "submitted"


def launch_if_served_here(*, execution_id: str, queue: str) -> bool:
    """Launch at once when this process is a worker of the host that `queue` belongs to. False
    when it is not, or the launch failed here: the caller sends the launch message instead."""
    if not hosting.serves_queue(queue):
        return False
    try:
        launch_here(execution_id)
    except Exception:  # noqa: BLE001 (the launch message, sent instead, retries it)
        logger.warning("launch of %s here failed; sending it", execution_id, exc_info=True)
        return False
    return True
