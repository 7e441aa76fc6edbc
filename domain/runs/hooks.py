"""How a run follows its execution: the owner hook of "runs.run" executions.

Called inside the execution's transition transaction on every state change, so the run's
status moves in the same commit as its execution's:

    execution  PENDING → run PENDING        RUNNING → run RUNNING (+ started_at)
    ENDED      exited    → STOPPED, the command's exit code
               oom       → STOPPED, exit 137, "OOMKilled: …"
               stopped   → STOPPED, exit 1, the stop's reason
               timed_out → STOPPED, exit 1, "JobRun exceeded specified timeout of N seconds"
               lost      → NEEDS_RETRY while retries are left, else STOPPED "worker lost"
               launch_failed → STOPPED, exit 1, the engine's reason

An execution that is not the run's current one (an earlier attempt), or whose run waits for a
retry (the attempt was given up), changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from domain.executions.owners import owner_hook
from domain.runs import conf
from domain.runs.models import Run, RunStatus
from domain.runs.status import run_transition

S = RunStatus
OOM_EXIT_CODE = 137
STOPPED_BY_USER = "Task terminated by user"


@owner_hook("runs.run")
def on_execution(execution: Any, source: str, target: str) -> None:
    run = Run.objects.select_for_update().filter(pk=execution.owner_id).first()
    if run is None or run.execution_id != execution.id or run.status == S.NEEDS_RETRY:
        return
    if target == "PENDING":
        run_transition(run_id=run.pk, target=S.PENDING, updates=_placement(execution), locked=run)
    elif target == "RUNNING":
        updates = {**_placement(execution), "started_at": execution.started_at or timezone.now()}
        run_transition(run_id=run.pk, target=S.RUNNING, updates=updates, locked=run)
    elif target == "ENDED":
        _ended(run, execution)


def _placement(execution: Any) -> dict[str, Any]:
    ref = execution.engine_ref or {}
    return {
        "instance": execution.host or "",
        "pod_name": ref.get("pod_name") or ref.get("job_name") or "",
        "namespace": ref.get("namespace") or "",
        "attempt_count": execution.attempt,
    }


def _ended(run: Run, execution: Any) -> None:
    if execution.outcome == "lost" and run.attempt_count <= conf.max_retries():
        detail = {"reason": execution.exit_reason or "worker lost"}
        run_transition(run_id=run.pk, target=S.NEEDS_RETRY, locked=run, detail=detail)
        return
    exit_code, reason = _exit(run, execution)
    updates = {
        **_placement(execution),
        "exit_code": exit_code,
        "exit_reason": reason,
        "finished_at": execution.finished_at or timezone.now(),
        "started_at": run.started_at or execution.started_at,
        **_usage(execution),
    }
    run_transition(run_id=run.pk, target=S.STOPPED, updates=updates, locked=run)


def _exit(run: Run, execution: Any) -> tuple[int | None, str]:
    outcome, code = execution.outcome, execution.exit_code
    engine_reason = execution.exit_reason or ""
    if outcome == "exited":
        if code == 0:
            return 0, engine_reason or "Exited successfully"
        return code, engine_reason or f"Exited with code {code}"
    if outcome == "oom":
        return code if code is not None else OOM_EXIT_CODE, _prefixed("OOMKilled", engine_reason)
    if outcome == "stopped":
        return 1, execution.stop_reason or engine_reason or STOPPED_BY_USER
    if outcome == "timed_out":
        seconds = execution.deadline_seconds or run.active_deadline_seconds
        return 1, f"JobRun exceeded specified timeout of {seconds} seconds"
    if outcome == "lost":
        return 1, _prefixed("worker lost", engine_reason)
    return 1, engine_reason or "the engine could not launch the run"


def _prefixed(label: str, reason: str) -> str:
    """`label: reason`, once (the engine may have said it already)."""
    if reason.startswith(label):
        reason = reason[len(label) :].lstrip(": ")
    if label == "OOMKilled" and not reason:
        reason = "the command used more memory than its limit"
    return f"{label}: {reason}" if reason else label


def _usage(execution: Any) -> dict[str, Any]:
    # Only memory is reported in the original's unit (MB); CPU seconds are not millicores.
    return {"max_memory_used": (execution.usage or {}).get("max_mem_mb")}
