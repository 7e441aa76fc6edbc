"""Thin Celery adapters of the releases family: load by id, call one domain function or client.

Outbound calls retry transient failures (connection error, timeout, 5xx) with exponential
backoff and jitter, OUTBOUND_RETRIES times (0: fail at once, as the original did), then run the
failure path: OUTBOUND_RETRIES + 1 attempts in all, a batch's attempt included. The retry keeps
the task id, so a retried chord header still counts once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from domain.releases import conf, selectors, services
from domain.releases.errors import FieldErrors
from domain.releases.machines import error_event
from domain.releases.models import ReleaseState, Task, TaskService, TaskState
from orchestrator.clients import dataservice
from orchestrator.clients.task_service import PermanentError, check_health, send_action
from orchestrator.taskkit import TransientError, regatta_task

logger = logging.getLogger(__name__)
R = ReleaseState
T = TaskState
NO_AUTORETRY: tuple = ()
MISSING = object()
# Concurrent calls inside one batch message (start/publish of a release, polls of a service).
BATCH_THREADS = 8


def _backoff(retries: int) -> float:
    delay = min(conf.RETRY_BACKOFF * (2**retries), conf.RETRY_BACKOFF_MAX)
    return delay * random.uniform(0.5, 1.0)


def _outbound(task: Any, call: Callable[[], Any], give_up: Callable[[str], Any]) -> Any:
    """Run `call`; retry transient failures; on a permanent one or past the retries run
    `give_up(message)` and return MISSING."""
    try:
        return call()
    except TransientError as exc:
        limit = settings.OUTBOUND_RETRIES
        if task.request.retries < limit:
            raise task.retry(
                exc=exc, countdown=_backoff(task.request.retries), max_retries=limit
            ) from exc
        give_up(str(exc))
    except PermanentError as exc:
        give_up(str(exc))
    return MISSING


def _send(ctx: selectors.TaskContext, action: str, *, studies: bool = True) -> dict:
    return send_action(
        base_url=ctx.service_url,
        token=ctx.service_token,
        action=action,
        task_id=ctx.task_id,
        release_id=ctx.release_id,
        studies=ctx.studies if studies else None,
    )


def _reported_state(body: dict) -> str | None:
    value = body.get("state")
    return value.strip().lower() if isinstance(value, str) else None


def _outbound_task(name: str, **kw: Any):
    return regatta_task(
        name,
        queue="outbound",
        autoretry_for=NO_AUTORETRY,
        max_retries=None,
        **kw,
    )


# --- lifecycle steps -----------------------------------------------------------------------------


@regatta_task("releases.prepare_release", autoretry_for=NO_AUTORETRY)
def prepare_release(self, release_id: str) -> list[str] | None:
    return services.release_prepare(release_id)


@_outbound_task("releases.initialize_task")
def initialize_task(self, task_id: str) -> str:
    ctx = selectors.task_context(task_id)
    if ctx is None or ctx.state != T.WAITING or ctx.release_state != R.INITIALIZING:
        return "skipped"

    def reject(err: str) -> None:
        services.task_reject(task_id, f"request to initialize task failed: {err}")

    body = _outbound(self, lambda: _send(ctx, "initialize"), reject)
    if body is MISSING:
        return "rejected"
    state = _reported_state(body)
    if state not in (None, "pending", T.INITIALIZED, T.WAITING):
        reject(f"service answered state {state}")
        return "rejected"
    services.task_initialized(task_id)
    return "initialized"


@regatta_task("releases.start_release", autoretry_for=NO_AUTORETRY)
def start_release(self, release_id: str) -> list[str]:
    return services.release_start(release_id)


class _Transient(Exception):
    """A transient failure in a batch: the one-task step takes over with its retries."""


def _deliver(task_id: str, action: str, expected: str, ahead: str, call) -> str:
    """Send `action` (start/publish) for one task the domain already moved to `expected`.
    `call(ctx)` sends it (with or without Celery retries). The service may answer `expected`,
    no state, or already `ahead` (then that report is applied too)."""
    ctx = selectors.task_context(task_id)
    if ctx is None or ctx.pending_action != action or ctx.state != expected:
        return "skipped"

    def fail(err: str) -> None:
        services.task_fail(task_id, f"request to {action} task failed: {err}")

    body = call(ctx, fail)
    if body is MISSING:
        return "failed"
    state = _reported_state(body)
    if state not in (None, expected, ahead):
        fail(f"service answered state {state}")
        return "failed"
    services.task_action_acknowledged(task_id, action)
    if state == ahead:
        services.task_report(task_id, state=ahead, progress=body.get("progress"), strict=False)
    return "sent"


def _acknowledge(self: Any, task_id: str, action: str, expected: str, ahead: str) -> str:
    return _deliver(
        task_id,
        action,
        expected,
        ahead,
        lambda ctx, fail: _outbound(self, lambda: _send(ctx, action), fail),
    )


@_outbound_task("releases.start_task")
def start_task(self, task_id: str) -> str:
    return _acknowledge(self, task_id, "start", T.RUNNING, T.STAGED)


@_outbound_task("releases.publish_task")
def publish_task(self, task_id: str) -> str:
    return _acknowledge(self, task_id, "publish", T.PUBLISHING, T.PUBLISHED)


def _once(send: Callable[[selectors.TaskContext], Any]):
    """A batch's attempt, which is the first of the OUTBOUND_RETRIES + 1 a call gets. A transient
    failure raises _Transient for the batch to hand over to the one-task step, unless no retry
    is left (OUTBOUND_RETRIES=0): then the failure path runs at once, as in the original."""

    def call(ctx: selectors.TaskContext, fail: Callable[[str], Any]) -> Any:
        try:
            return send(ctx)
        except TransientError as exc:
            if settings.OUTBOUND_RETRIES < 1:
                fail(str(exc))
                return MISSING
            raise _Transient(str(exc)) from exc
        except PermanentError as exc:
            fail(str(exc))
            return MISSING

    return call


def _hand_over() -> dict[str, Any]:
    """Options of the one-task step that takes over after a batch's transient failure: the
    batch's attempt counts as the first, so the step starts at retry 1 after one backoff."""
    return {"retries": 1, "countdown": _backoff(0)}


_STEP = {
    "start": (T.RUNNING, T.STAGED),
    "publish": (T.PUBLISHING, T.PUBLISHED),
}


def _in_thread(fn: Callable[[str], str]) -> Callable[[str], str]:
    def run(task_id: str) -> str:
        try:
            return fn(task_id)
        except _Transient:
            return "transient"
        finally:
            # Each pool thread opened its own database connection.
            connection.close()

    return run


@_outbound_task("releases.send_batch")
def send_batch(self, action: str, task_ids: list[str]) -> dict[str, str]:
    """Send `start` or `publish` to many tasks at once, concurrently: one Celery message per
    release instead of one per task. A task whose call fails transiently is handed to the
    one-task step (start_task/publish_task), which retries with backoff."""
    from orchestrator.lifecycles import releases as lifecycle

    expected, ahead = _STEP[action]
    attempt = _once(lambda ctx: _send(ctx, action))
    one = _in_thread(lambda tid: _deliver(tid, action, expected, ahead, attempt))
    with ThreadPoolExecutor(max_workers=max(1, min(BATCH_THREADS, len(task_ids)))) as pool:
        outcomes = dict(zip(task_ids, pool.map(one, task_ids), strict=True))
    retry = [tid for tid, outcome in outcomes.items() if outcome == "transient"]
    lifecycle.send_each(action, retry, **_hand_over())
    return outcomes


def _check(task_id: str, call) -> str:
    """Ask one task's service for its status and apply the answer."""
    ctx = selectors.task_context(task_id, with_studies=False)
    if ctx is None or ctx.state not in (T.RUNNING, T.PUBLISHING) or ctx.pending_action:
        return "skipped"

    def fail(err: str) -> None:
        services.task_fail(task_id, f"request to get status of task failed: {err}")

    asked_at = timezone.now()
    body = call(ctx, fail)
    if body is MISSING:
        return "failed"
    state = _reported_state(body)
    if state not in (T.STAGED, T.PUBLISHED, T.FAILED, T.CANCELED):
        state = None
    report = partial(services.task_report, task_id, state=state, strict=False, asked_at=asked_at)
    try:
        report(progress=body.get("progress"))
    except FieldErrors:
        # A garbled progress value must not lose a state change.
        report()
    return state or "unchanged"


def _status_call(ctx: selectors.TaskContext) -> dict:
    # get_status sends no studies, as in the original.
    return _send(ctx, "get_status", studies=False)


@_outbound_task("releases.check_task")
def check_task(self, task_id: str) -> str:
    """Poll one task, retrying transient failures with backoff."""
    return _check(task_id, lambda ctx, fail: _outbound(self, lambda: _status_call(ctx), fail))


@_outbound_task("releases.check_batch")
def check_batch(self, task_ids: list[str]) -> dict[str, str]:
    """Poll many tasks (of one service) in one Celery message; transient failures are handed to
    check_task, which retries with backoff before failing the task."""
    from orchestrator.lifecycles import releases as lifecycle

    attempt = _once(_status_call)
    one = _in_thread(lambda tid: _check(tid, attempt))
    with ThreadPoolExecutor(max_workers=max(1, min(BATCH_THREADS, len(task_ids)))) as pool:
        outcomes = dict(zip(task_ids, pool.map(one, task_ids), strict=True))
    for tid, outcome in outcomes.items():
        if outcome == "transient":
            lifecycle.check_one(tid, **_hand_over())
    return outcomes


@regatta_task("releases.check_release", autoretry_for=NO_AUTORETRY)
def check_release(self, release_id: str) -> None:
    services.release_check_tasks(release_id)


@regatta_task("releases.fail_release", autoretry_for=NO_AUTORETRY)
def fail_release(self, release_id: str) -> None:
    services.release_fail_for_dead_task(release_id)


@regatta_task("releases.cancel_release", autoretry_for=NO_AUTORETRY)
def cancel_release(self, release_id: str) -> list[str]:
    from orchestrator.lifecycles import releases as lifecycle

    ids = services.tasks_to_cancel(release_id)
    lifecycle.cancel_canvas(release_id, ids)
    return ids


@_outbound_task("releases.cancel_task")
def cancel_task(self, task_id: str) -> str:
    """Tell the service, once; whatever it answers, the task is canceled (spec §4.6)."""
    ctx = selectors.task_context(task_id)
    if ctx is None or ctx.state in (T.CANCELED, T.FAILED, T.REJECTED):
        return "skipped"
    try:
        _send(ctx, "cancel")
    except TransientError as exc:
        task = Task.objects.filter(pk=task_id).first()
        if task is not None:
            error_event(f"request to cancel task failed: {exc}", task=task)
    except PermanentError:
        pass  # any answer is accepted
    services.task_mark_canceled(task_id)
    return "canceled"


@regatta_task("releases.finish_cancel", autoretry_for=NO_AUTORETRY)
def finish_cancel(self, release_id: str) -> str | None:
    release = services.release_cancel_finish(release_id)
    return release.state if release else None


# --- beat sweeps ---------------------------------------------------------------------------------


@_outbound_task("releases.health_check")
def health_check(self, service_id: str) -> bool:
    service = TaskService.objects.filter(pk=service_id).first()
    if service is None:
        return False
    ok = check_health(base_url=service.url, token=service.outbound_token)
    services.record_health(service_id, ok=ok)
    return ok


@regatta_task("releases.health_checks")
def health_checks(self) -> int:
    """Every service, enabled or not (spec §3.2); health is informational only."""
    ids = list(TaskService.objects.values_list("kf_id", flat=True))
    for sid in ids:
        health_check.delay(sid)
    return len(ids)


@regatta_task("releases.poll_tasks")
def poll_tasks(self, interval: float | None = None) -> int:
    from orchestrator.lifecycles import releases as lifecycle

    ids = services.claim_due_polls(interval=interval or conf.TASK_POLL_INTERVAL)
    lifecycle.check_tasks(ids)
    return len(ids)


@regatta_task("releases.sweep_timeouts")
def sweep_timeouts(
    self, task_timeout: float | None = None, release_timeout: float | None = None
) -> dict:
    return services.sweep_timeouts(
        task_timeout=task_timeout or conf.TASK_TIMEOUT,
        release_timeout=release_timeout or conf.RELEASE_TIMEOUT,
    )


@regatta_task("releases.reconcile")
def reconcile(self, stale_after: float | None = None) -> list[str]:
    from orchestrator.lifecycles import releases as lifecycle

    return services.reconcile(
        stale_after=conf.RECONCILE_AFTER if stale_after is None else stale_after,
        redrive=lifecycle.redrive,
    )


@regatta_task("releases.sync_studies", queue="outbound")
def sync_studies(self) -> dict | None:
    base = conf.dataservice_url()
    if not base:
        return None
    rows = dataservice.fetch_studies(base)
    return services.studies_upsert(rows, mark_missing_deleted=True)
