"""Thin Celery adapters of the releases family: load by id, call one domain function or client.

Calls to task services go out in batches: one Celery message carries the calls for many tasks
and makes them concurrently. A Celery message costs a worker about as much CPU as the HTTP call
it carries, so one message per call would halve what the workers can send. A transient failure
(connection error, timeout, 5xx) is retried with backoff by retrying the batch message with only
the tasks that failed; the retry keeps the message's task id, so a retried chord header still
counts once. After OUTBOUND_RETRIES retries (OUTBOUND_RETRIES + 1 attempts in all; 0 fails at
once, as the original did) the failure path runs.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from domain.releases import conf, selectors, services
from domain.releases.errors import FieldErrors
from domain.releases.machines import error_event
from domain.releases.models import ReleaseState, Task, TaskService, TaskState
from orchestrator.batch_limits import BATCH_THREADS, hard_time_limit, soft_time_limit
from orchestrator.clients import dataservice
from orchestrator.clients.task_service import PermanentError, check_health, send_action
from orchestrator.taskkit import TransientError, regatta_task

logger = logging.getLogger(__name__)
R = ReleaseState
T = TaskState
NO_AUTORETRY: tuple = ()
MISSING = object()
TRANSIENT = "transient"


def _backoff(retries: int) -> float:
    delay = min(conf.RETRY_BACKOFF * (2**retries), conf.RETRY_BACKOFF_MAX)
    return delay * random.uniform(0.5, 1.0)


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
    # Below the broker's visibility timeout: settings and celeryconfig refuse to start otherwise.
    return regatta_task(
        name,
        queue="outbound",
        autoretry_for=NO_AUTORETRY,
        max_retries=None,
        soft_time_limit=soft_time_limit(outbound_timeout=settings.OUTBOUND_TIMEOUT),
        time_limit=hard_time_limit(outbound_timeout=settings.OUTBOUND_TIMEOUT),
        **kw,
    )


# --- batches -------------------------------------------------------------------------------------


class _Transient(Exception):
    """A transient failure with attempts left: the batch retries this task."""


def _attempt(call: Callable[[], Any], fail: Callable[[str], Any], *, last: bool) -> Any:
    """One call. Returns its answer, or MISSING after running `fail` (a permanent failure, or a
    transient one on the last attempt); raises _Transient when another attempt is due."""
    try:
        return call()
    except TransientError as exc:
        if not last:
            raise _Transient(str(exc)) from exc
        fail(str(exc))
    except PermanentError as exc:
        fail(str(exc))
    return MISSING


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """One pool per worker process, made after the fork. Its threads keep their database
    connections between batches (opening one per call cost more than the call itself)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(BATCH_THREADS, thread_name_prefix="outbound")
        return _pool


Step = Callable[[selectors.TaskContext, bool], str]


def _in_thread(step: Step, last: bool) -> Callable[[selectors.TaskContext], str]:
    def run(ctx: selectors.TaskContext) -> str:
        # What a request does on arrival: drop a broken or expired connection.
        close_old_connections()
        try:
            return step(ctx, last)
        except _Transient:
            return TRANSIENT

    return run


def _batch(
    task: Any,
    task_ids: list[str],
    step: Step,
    again: Callable[[list[str]], tuple],
    *,
    with_studies: bool = True,
    settle: Callable[[dict[str, str]], Any] | None = None,
) -> dict[str, str]:
    """Run `step(context, last)` for every task concurrently, then `settle(outcomes)`; retry the
    transient ones with backoff as this same message with args `again(ids)`."""
    retries = task.request.retries
    last = retries >= settings.OUTBOUND_RETRIES
    contexts = selectors.task_contexts(task_ids, with_studies=with_studies)
    outcomes = dict.fromkeys(task_ids, "skipped")
    found = list(contexts.values())
    outcomes.update(zip(contexts, _threads().map(_in_thread(step, last), found), strict=True))
    if settle is not None:
        settle(outcomes)
    transient = [tid for tid, outcome in outcomes.items() if outcome == TRANSIENT]
    if transient:
        raise task.retry(
            args=again(transient),
            countdown=_backoff(retries),
            max_retries=settings.OUTBOUND_RETRIES,
        )
    return outcomes


# --- lifecycle steps -----------------------------------------------------------------------------


@regatta_task("releases.prepare_release", autoretry_for=NO_AUTORETRY)
def prepare_release(self, release_id: str) -> list[str] | None:
    return services.release_prepare(release_id)


def _initialize(ctx: selectors.TaskContext, last: bool) -> str:
    task_id = ctx.task_id
    if ctx.state != T.WAITING or ctx.release_state != R.INITIALIZING:
        return "skipped"

    def reject(err: str) -> None:
        services.task_reject(task_id, f"request to initialize task failed: {err}")

    body = _attempt(lambda: _send(ctx, "initialize"), reject, last=last)
    if body is MISSING:
        return "rejected"
    state = _reported_state(body)
    if state not in (None, "pending", T.INITIALIZED, T.WAITING):
        reject(f"service answered state {state}")
        return "rejected"
    services.task_initialized(task_id)
    return "initialized"


@_outbound_task("releases.initialize_tasks")
def initialize_tasks(self, task_ids: list[str]) -> dict[str, str]:
    """A chord header: `initialize` to these tasks' services; the chord then starts the release."""
    return _batch(self, task_ids, _initialize, lambda ids: (ids,))


@regatta_task("releases.start_release", autoretry_for=NO_AUTORETRY)
def start_release(self, release_id: str) -> list[str]:
    return services.release_start(release_id)


_STEP = {
    "start": (T.RUNNING, T.STAGED),
    "publish": (T.PUBLISHING, T.PUBLISHED),
}


def _deliver(action: str, ctx: selectors.TaskContext, last: bool) -> str:
    """Send `action` (start/publish) for one task the domain already moved to the step's state.
    The service may answer that state, no state, or the one after it (applied too)."""
    expected, ahead = _STEP[action]
    task_id = ctx.task_id
    if ctx.pending_action != action or ctx.state != expected:
        return "skipped"

    def fail(err: str) -> None:
        services.task_fail(task_id, f"request to {action} task failed: {err}")

    body = _attempt(lambda: _send(ctx, action), fail, last=last)
    if body is MISSING:
        return "failed"
    state = _reported_state(body)
    if state not in (None, expected, ahead):
        fail(f"service answered state {state}")
        return "failed"
    if state == ahead:
        services.task_report(task_id, state=ahead, progress=body.get("progress"), strict=False)
    return "sent"


@_outbound_task("releases.send_batch")
def send_batch(self, action: str, task_ids: list[str]) -> dict[str, str]:
    """Send `start` or `publish` to many tasks at once, concurrently."""

    def acknowledge(outcomes: dict[str, str]) -> None:
        sent = [tid for tid, outcome in outcomes.items() if outcome == "sent"]
        services.tasks_action_acknowledged(sent, action)

    return _batch(
        self, task_ids, partial(_deliver, action), lambda ids: (action, ids), settle=acknowledge
    )


def _check(ctx: selectors.TaskContext, last: bool) -> str:
    """Ask one task's service for its status and apply the answer."""
    task_id = ctx.task_id
    if ctx.state not in (T.RUNNING, T.PUBLISHING) or ctx.pending_action:
        return "skipped"

    def fail(err: str) -> None:
        services.task_fail(task_id, f"request to get status of task failed: {err}")

    asked_at = timezone.now()
    # get_status sends no studies, as in the original.
    body = _attempt(lambda: _send(ctx, "get_status", studies=False), fail, last=last)
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


@_outbound_task("releases.check_batch")
def check_batch(self, task_ids: list[str]) -> dict[str, str]:
    """Poll many tasks (of one service) in one message."""
    return _batch(self, task_ids, _check, lambda ids: (ids,), with_studies=False)


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


def _cancel(ctx: selectors.TaskContext, last: bool) -> str:
    """Tell the service, once; whatever it answers, the task is canceled (spec §4.6)."""
    task_id = ctx.task_id
    if ctx.state in (T.CANCELED, T.FAILED, T.REJECTED):
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


@_outbound_task("releases.cancel_tasks")
def cancel_tasks(self, task_ids: list[str]) -> dict[str, str]:
    """A chord header: `cancel` to these tasks' services, each sent once (no retries)."""
    return _batch(self, task_ids, _cancel, lambda ids: (ids,))


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
