"""Following executions on remote engines (kubernetes): beat asks each engine how its
submitted executions are doing, copies new output lines into the log, and records the ends."""

from __future__ import annotations

import logging

from django.utils import timezone

from domain.executions import conf
from domain.executions.launches import execution_end, execution_remote_running
from domain.executions.logs import execution_log_append
from domain.executions.models import ACTIVE_STATES, Execution, Outcome
from orchestrator.engines import engine_named
from orchestrator.engines.base import EngineUnavailable, RemoteEngine, RemoteStatus

logger = logging.getLogger(__name__)

POLL_LIMIT = 200
# A submitted Job the engine cannot find for this long was lost (spec B.6: 30 minutes).
MISSING_AFTER_SECONDS = 1800
# Pages of log read after a remote command ended (a page is up to 1,000 lines).
MAX_PAGES_AT_END = 10_000


def remote_poll() -> int:
    remote = [name for name in conf.ENGINES if name not in conf.HOST_ENGINES]
    rows = list(
        Execution.objects.filter(engine__in=remote, state__in=ACTIVE_STATES)
        .exclude(engine_ref={})
        .values_list("id", "engine", "engine_ref", "log_lines", "pending_at")[:POLL_LIMIT]
    )
    for execution_id, engine_name, ref, log_lines, pending_at in rows:
        engine: RemoteEngine = engine_named(engine_name)  # type: ignore[assignment]
        try:
            status = engine.status(ref)
            # Everything it printed is copied before its end is recorded: the engine deletes
            # a finished Job (and its log) an hour later.
            _copy_logs(
                engine, execution_id, ref | status.ref, log_lines, drain=status.state == "ENDED"
            )
        except EngineUnavailable:
            logger.warning("engine %s unreachable while polling %s", engine_name, execution_id)
            continue
        _apply(execution_id, status, pending_at)
    return len(rows)


def _copy_logs(
    engine: RemoteEngine, execution_id: str, ref: dict, offset: int, *, drain: bool
) -> None:
    """One page of new lines per poll while it runs; every page left once it has ended."""
    for _ in range(MAX_PAGES_AT_END if drain else 1):
        lines, _ = engine.read_logs(ref, offset)
        if not lines:
            return
        offset = execution_log_append(
            execution_id=execution_id,
            first_line=offset,
            lines=[line if line.endswith("\n") else line + "\n" for line in lines],
        )


def _apply(execution_id: str, status: RemoteStatus, pending_at) -> None:
    if status.state in ("RUNNING", "ENDED"):
        execution_remote_running(
            execution_id=execution_id, started_at=status.started_at, engine_ref=status.ref
        )
    if status.state == "ENDED" and status.exit is not None:
        exit_ = status.exit
        execution_end(
            execution_id=execution_id,
            outcome=_outcome(exit_),
            exit_code=exit_.exit_code,
            reason=exit_.reason,
            usage=exit_.usage,
        )
    elif status.state == "MISSING" and _missing_too_long(pending_at):
        execution_end(
            execution_id=execution_id,
            outcome=Outcome.LOST,
            exit_code=None,
            reason="Job either timed out or not found on the cluster.",
        )


def _missing_too_long(pending_at) -> bool:
    return (
        pending_at is not None
        and (timezone.now() - pending_at).total_seconds() > MISSING_AFTER_SECONDS
    )


def _outcome(exit_) -> Outcome:
    if exit_.timed_out:
        return Outcome.TIMED_OUT
    return Outcome.OOM if exit_.oom else Outcome.EXITED
