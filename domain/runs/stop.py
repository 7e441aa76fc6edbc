"""Stopping a run, and the legacy status report (PUT /{run_id}/status, spec B.6)."""

from __future__ import annotations

import json
import re

from django.db import transaction
from django.utils import timezone

from domain.common.errors import InvalidInput, NotFound
from domain.executions.services import execution_stop
from domain.runs.hooks import STOPPED_BY_USER
from domain.runs.models import Run, RunStatus
from domain.runs.status import run_transition

S = RunStatus


def stop_reason(email: str) -> str:
    return f"Task terminated by - {email}" if email else STOPPED_BY_USER


def run_stop(*, run_id: str, reason: str = STOPPED_BY_USER) -> Run:
    """Stop a run. Its execution is stopped; when that ends (at once for a QUEUED one, once
    the engine has killed it otherwise) the owner hook records STOPPED, exit code 1 and
    `reason`. A run waiting for a retry has nothing running and is STOPPED here. Stopping a
    STOPPED run is a no-op."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.status == S.STOPPED:
            return run
        if run.status == S.NEEDS_RETRY:
            run_transition(run_id=run_id, target=S.STOPPED, updates=_stopped(reason), locked=run)
            return run
    execution_stop(execution_id=run.execution_id, reason=reason)
    return Run.objects.get(pk=run_id)


def _locked(run_id: str) -> Run:
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"Run with id {run_id} not found")
    return run


def _stopped(reason: str) -> dict:
    return {"exit_code": 1, "exit_reason": reason, "finished_at": timezone.now()}


# --- legacy status reports ------------------------------------------------------------------

# The original's buckets, in its order, for a report that names no exit_reason. Its last
# bucket ("syntaxerror|typeerror|") matched everything through its empty alternative; here a
# report that matches none is "Runtime exception encountered".
EXCEPTION_BUCKETS = (
    (
        r"timeout|gatewayerror|socketerror|\s503\s|\s502\s|\s500\s|\s504\s|connectionerror",
        "Connection error to downstream uri",
    ),
    (
        r"could\snot\sfind\sa\sversion|package\snot\sfound|ModuleNotFoundError|"
        r"No\smatching\sdistribution\sfound",
        "Python pip package installation error",
    ),
    (r"Nothing\sto\sdo", "Yum installation error"),
    (
        r"Could\snot\sread\sfrom\sremote\srepository|correct\saccess\srights|"
        r"Repository\snot\sfound",
        "Git clone error",
    ),
    (r"404|400|keyerror|column\smissing|RuntimeError", "Data or argument error"),
    (r"syntaxerror|typeerror", "Code or syntax error"),
)
GENERIC_EXCEPTION = "Runtime exception encountered"


def exit_reason_from(run_exceptions: list[str]) -> str:
    text = json.dumps(run_exceptions)
    for pattern, reason in EXCEPTION_BUCKETS:
        if re.search(pattern, text, re.IGNORECASE):
            return reason
    return GENERIC_EXCEPTION


def run_status_update(
    *,
    run_id: str,
    status: str,
    exit_code: int | None = None,
    run_exceptions: list[str] | None = None,
    exit_reason: str | None = None,
) -> Run:
    """A client reports its run's status itself (the original's legacy runners). The status
    moves only forward (precedence); a report of STOPPED also stops the run's execution, and
    NEEDS_RETRY gives it up so the retry sweep starts a new attempt."""
    if status not in S.values:
        raise InvalidInput(f"status {status} is invalid")
    if exit_reason is None and run_exceptions:
        exit_reason = exit_reason_from(run_exceptions)
    with transaction.atomic():
        run = _locked(run_id)
        updates = _reported(run, status, exit_code, run_exceptions, exit_reason)
        moved = run_transition(run_id=run_id, target=status, updates=updates, locked=run)
    if moved.applied and status in (S.STOPPED, S.NEEDS_RETRY) and run.execution_id:
        execution_stop(execution_id=run.execution_id, reason=exit_reason or "reported " + status)
    return Run.objects.get(pk=run_id)


def _reported(
    run: Run,
    status: str,
    exit_code: int | None,
    run_exceptions: list[str] | None,
    exit_reason: str | None,
) -> dict:
    # The original's merge: fields update only when given.
    updates: dict = {}
    if exit_code is not None:
        updates["exit_code"] = exit_code
    if run_exceptions is not None:
        updates["run_exceptions"] = run_exceptions
    if exit_reason is not None:
        updates["exit_reason"] = exit_reason
    if status in (S.RUNNING, S.STOPPED) and run.started_at is None:
        updates["started_at"] = run.queued_at
    if status == S.STOPPED:
        updates["finished_at"] = timezone.now()
    return updates
