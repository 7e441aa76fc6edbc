"""Release lifecycle canvases: one handler per step of domain/releases/steps.py.

    PrepareRelease ─► prepare_release                       (domain: release_prepare)
    InitializeTasks ─► chord(initialize_tasks × chunks, on `outbound`) ─► start_release
    StartRelease ─► start_release
    SendStart / SendPublish ─► send_batch(start|publish) × chunks
    CancelRelease ─► chord(cancel_tasks × chunks of the tasks collected under the lock)
                         ─► finish_cancel
    CheckRelease ─► check_release       PollTasks ─► check_batch × service × chunk
    CheckHealth ─► health_check × service

A domain transition schedules its step after commit (domain/common/steps.py); `install()` in
this package registers these handlers at start. Canvases name their tasks by their dotted names
(`app.signature`), so this module and orchestrator/tasks never import each other. Every canvas
has an error path: `releases.step_failed` records why a step failed as an error event of the
release; the reconciler stays the safety net.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from celery import Signature, chord

from domain.common.steps import step_handler
from domain.releases import steps
from orchestrator.batch_limits import MAX_BATCH
from orchestrator.celery import app

# On Redis, priority 0 (every other message) is consumed first. Initialize calls go behind it,
# so a release whose services are all initialized starts at once instead of waiting in one
# FIFO behind every other release's initialize calls (the original's 51 s, spec §12).
INITIALIZE_PRIORITY = 6
# Polls are background work: they never delay an initialize, start or publish.
POLL_PRIORITY = 9
# Calls per batch message. Initialize uses smaller batches so that one release's calls still
# fan out over several worker processes.
INITIALIZE_BATCH = 10


def _sig(name: str, *args: Any, **options: Any) -> Signature:
    return app.signature(f"releases.{name}", args=args, immutable=True, **options)


def _on_error(step: steps.ReleaseStep, release_id: str | None) -> Signature:
    return app.signature(
        "releases.step_failed", kwargs={"release_id": release_id, "step": step.name}
    )


def _send(step: steps.ReleaseStep, release_id: str | None, sig: Signature) -> None:
    """Enqueue one message nobody waits for. Without a stored result the sender does not
    subscribe to one, so a web request that enqueues (create, publish, cancel) needs the broker
    alone and, with the broker down, fails within the publish retry policy (celeryconfig)
    instead of waiting out the result store's reconnects."""
    sig.apply_async(ignore_result=True, link_error=_on_error(step, release_id))


def _fan_in(
    step: steps.ReleaseStep, release_id: str, header: Iterable[Signature], body: Signature
) -> None:
    """A chord whose body's error path also catches a failed header message."""
    chord(list(header))(body.set(link_error=[_on_error(step, release_id)]))


def _chunks(ids: Iterable[str], size: int = MAX_BATCH) -> Iterator[list[str]]:
    ids = list(ids)
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


@step_handler(steps.PrepareRelease)
def prepare(step: steps.PrepareRelease) -> None:
    _send(step, step.release_id, _sig("prepare_release", step.release_id))


@step_handler(steps.InitializeTasks)
def initialize(step: steps.InitializeTasks) -> None:
    if not step.task_ids:
        start_release(steps.StartRelease(release_id=step.release_id))
        return
    header = (
        _sig("initialize_tasks", chunk, priority=INITIALIZE_PRIORITY)
        for chunk in _chunks(step.task_ids, INITIALIZE_BATCH)
    )
    _fan_in(step, step.release_id, header, _sig("start_release", step.release_id))


@step_handler(steps.StartRelease)
def start_release(step: steps.StartRelease) -> None:
    _send(step, step.release_id, _sig("start_release", step.release_id))


def _deliver(step: steps.SendStart | steps.SendPublish) -> None:
    """One batch message per MAX_BATCH tasks; each sends its calls concurrently."""
    for chunk in _chunks(step.task_ids):
        _send(step, step.release_id, _sig("send_batch", step.name, chunk))


step_handler(steps.SendStart)(_deliver)
step_handler(steps.SendPublish)(_deliver)


@step_handler(steps.CancelRelease)
def cancel(step: steps.CancelRelease) -> None:
    finish = _sig("finish_cancel", step.release_id)
    if not step.task_ids:
        _send(step, step.release_id, finish)
        return
    header = (_sig("cancel_tasks", chunk) for chunk in _chunks(step.task_ids))
    _fan_in(step, step.release_id, header, finish)


@step_handler(steps.CheckRelease)
def check_release(step: steps.CheckRelease) -> None:
    _send(step, step.release_id, _sig("check_release", step.release_id))


@step_handler(steps.PollTasks)
def poll(step: steps.PollTasks) -> None:
    for group in step.groups:
        for chunk in _chunks(sorted(group)):
            _send(step, None, _sig("check_batch", chunk, priority=POLL_PRIORITY))


@step_handler(steps.CheckHealth)
def check_health(step: steps.CheckHealth) -> None:
    for service_id in step.service_ids:
        _send(step, None, _sig("health_check", service_id))
