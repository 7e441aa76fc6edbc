"""Thin Celery adapters of the releases family: load by id, call one domain service or client.

Calls to task services go out in batches (orchestrator/clients/batch.py): one message carries
the calls for many tasks and makes them concurrently. The canvases that chain these tasks are
built in orchestrator/lifecycles/releases.py, by task name; this module never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.utils import timezone

from domain.releases import conf, records, selectors, services, studies, sweeps, task_services
from domain.releases.errors import FieldErrors
from domain.releases.machines import error_event
from domain.releases.models import ReleaseState, Task, TaskService, TaskState
from orchestrator.batch_limits import hard_time_limit, soft_time_limit
from orchestrator.clients import dataservice
from orchestrator.clients.batch import MISSING, attempt, backoff, run_batch
from orchestrator.clients.task_service import check_health, send_action
from orchestrator.taskkit import PermanentError, TransientError, regatta_task

logger = logging.getLogger(__name__)
R = ReleaseState
T = TaskState


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
        max_retries=None,
        soft_time_limit=soft_time_limit(outbound_timeout=settings.OUTBOUND_TIMEOUT),
        time_limit=hard_time_limit(outbound_timeout=settings.OUTBOUND_TIMEOUT),
        **kw,
    )


def _batch(
    task: Any,
    task_ids: list[str],
    step: Callable[[selectors.TaskContext, bool], str],
    again: Callable[[list[str]], tuple],
    *,
    with_studies: bool = True,
    settle: Callable[[dict[str, str]], Any] | None = None,
) -> dict[str, str]:
    """Calls to task services, one per task, in one message (orchestrator/clients/batch.py)."""
    return run_batch(
        task,
        task_ids,
        load=partial(selectors.task_contexts, with_studies=with_studies),
        step=step,
        again=again,
        countdown=partial(backoff, base=conf.RETRY_BACKOFF, cap=conf.RETRY_BACKOFF_MAX),
        settle=settle,
    )


# --- lifecycle steps -----------------------------------------------------------------------------


@regatta_task("releases.prepare_release")
def prepare_release(self, release_id: str) -> list[str] | None:
    return services.release_prepare(release_id=release_id)


def _initialize(ctx: selectors.TaskContext, last: bool) -> str:
    task_id = ctx.task_id
    if ctx.state != T.WAITING or ctx.release_state != R.INITIALIZING:
        return "skipped"

    def reject(err: str) -> None:
        services.task_reject(task_id=task_id, message=f"request to initialize task failed: {err}")

    body = attempt(lambda: _send(ctx, "initialize"), reject, last=last)
    if body is MISSING:
        return "rejected"
    state = _reported_state(body)
    if state not in (None, "pending", T.INITIALIZED, T.WAITING):
        reject(f"service answered state {state}")
        return "rejected"
    services.task_mark_initialized(task_id=task_id)
    return "initialized"


@_outbound_task("releases.initialize_tasks")
def initialize_tasks(self, task_ids: list[str]) -> dict[str, str]:
    """A chord header: `initialize` to these tasks' services; the chord then starts the release."""
    return _batch(self, task_ids, _initialize, lambda ids: (ids,))


@regatta_task("releases.start_release")
def start_release(self, release_id: str) -> list[str]:
    return services.release_start(release_id=release_id)


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
        services.task_fail(task_id=task_id, message=f"request to {action} task failed: {err}")

    body = attempt(lambda: _send(ctx, action), fail, last=last)
    if body is MISSING:
        return "failed"
    state = _reported_state(body)
    if state not in (None, expected, ahead):
        fail(f"service answered state {state}")
        return "failed"
    if state == ahead:
        services.task_report(
            task_id=task_id, state=ahead, progress=body.get("progress"), strict=False
        )
    return "sent"


@_outbound_task("releases.send_batch")
def send_batch(self, action: str, task_ids: list[str]) -> dict[str, str]:
    """Send `start` or `publish` to many tasks at once, concurrently."""

    def acknowledge(outcomes: dict[str, str]) -> None:
        sent = [tid for tid, outcome in outcomes.items() if outcome == "sent"]
        services.tasks_acknowledge(task_ids=sent, action=action)

    return _batch(
        self, task_ids, partial(_deliver, action), lambda ids: (action, ids), settle=acknowledge
    )


def _check(ctx: selectors.TaskContext, last: bool) -> str:
    """Ask one task's service for its status and apply the answer."""
    task_id = ctx.task_id
    if ctx.state not in (T.RUNNING, T.PUBLISHING) or ctx.pending_action:
        return "skipped"

    def fail(err: str) -> None:
        services.task_fail(task_id=task_id, message=f"request to get status of task failed: {err}")

    asked_at = timezone.now()
    # get_status sends no studies, as in the original.
    body = attempt(lambda: _send(ctx, "get_status", studies=False), fail, last=last)
    if body is MISSING:
        return "failed"
    state = _reported_state(body)
    if state not in (T.STAGED, T.PUBLISHED, T.FAILED, T.CANCELED):
        state = None
    report = partial(
        services.task_report, task_id=task_id, state=state, strict=False, asked_at=asked_at
    )
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


@regatta_task("releases.check_release")
def check_release(self, release_id: str) -> None:
    services.release_check_tasks(release_id=release_id)


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
    services.task_mark_canceled(task_id=task_id)
    return "canceled"


@_outbound_task("releases.cancel_tasks")
def cancel_tasks(self, task_ids: list[str]) -> dict[str, str]:
    """A chord header: `cancel` to these tasks' services, each sent once (no retries)."""
    return _batch(self, task_ids, _cancel, lambda ids: (ids,))


@regatta_task("releases.finish_cancel")
def finish_cancel(self, release_id: str) -> str | None:
    release = services.release_cancel_finish(release_id=release_id)
    return release.state if release else None


@regatta_task("releases.step_failed", bind=False)
def step_failed(
    request: Any, exc: BaseException, traceback: Any, *, release_id: str | None, step: str
) -> None:
    """The error path of every canvas (a new-style errback: Celery calls it in the worker where
    the step failed, with the exception). The reconciler re-drives the release later."""
    logger.warning("releases step %s of %s failed: %r", step, release_id, exc)
    records.step_failure_record(
        release_id=release_id, step=step, error=f"{type(exc).__name__}: {exc}"
    )


# --- beat sweeps ---------------------------------------------------------------------------------


@_outbound_task("releases.health_check")
def health_check(self, service_id: str) -> bool:
    service = TaskService.objects.filter(pk=service_id).first()
    if service is None:
        return False
    ok = check_health(base_url=service.url, token=service.outbound_token)
    task_services.task_service_record_health(service_id=service_id, ok=ok)
    return ok


@regatta_task("releases.health_checks")
def health_checks(self) -> int:
    """Every service, enabled or not (spec §3.2); health is informational only."""
    return task_services.task_services_check_health()


@regatta_task("releases.poll_tasks")
def poll_tasks(self, interval: float | None = None) -> int:
    return len(sweeps.tasks_poll_due(interval=interval or conf.TASK_POLL_INTERVAL))


@regatta_task("releases.sweep_timeouts")
def sweep_timeouts(
    self, task_timeout: float | None = None, release_timeout: float | None = None
) -> dict:
    return sweeps.releases_sweep_timeouts(
        task_timeout=task_timeout or conf.TASK_TIMEOUT,
        release_timeout=release_timeout or conf.RELEASE_TIMEOUT,
    )


@regatta_task("releases.reconcile")
def reconcile(self, stale_after: float | None = None) -> list[str]:
    return sweeps.releases_reconcile(
        stale_after=conf.RECONCILE_AFTER if stale_after is None else stale_after
    )


@regatta_task("releases.sync_studies", queue="outbound")
def sync_studies(self) -> dict | None:
    base = conf.dataservice_url()
    if not base:
        return None
    rows = dataservice.fetch_studies(base)
    return studies.studies_upsert(rows=rows, mark_missing_deleted=True)
