"""Release lifecycle canvases, built in one place.

    prepare ─► chord(initialize_tasks × chunks of enabled services, on `outbound`) ─► start_release
                                                                          └► send_batch(start)
    PATCH / poll (check_batch per service) ─► (domain, under the release lock) staged/published
    publish (HTTP) ─► send_batch(publish)
    cancel ─► chord(cancel_tasks × chunks of live tasks) ─► finish_cancel

Every function here is called after the domain's transaction commits and passes ids only.
"""

from __future__ import annotations

from typing import Any

from celery import Task, chord

from orchestrator.batch_limits import MAX_BATCH
from orchestrator.tasks import releases as t

# On Redis, priority 0 (every other message) is consumed first. Initialize calls go behind it,
# so a release whose services are all initialized starts at once instead of waiting in one
# FIFO behind every other release's initialize calls (the original's 51 s, spec §12).
INITIALIZE_PRIORITY = 6
# Polls are background work: they never delay an initialize, start or publish.
POLL_PRIORITY = 9


def _send(task: Task, *args: Any, **options: Any) -> None:
    """Enqueue a step nobody waits for. Without a stored result the sender does not subscribe to
    one, so a web request that enqueues (create, publish, cancel) needs the broker alone and,
    with the broker down, fails within the publish retry policy (celeryconfig) instead of
    waiting out the result store's reconnects."""
    task.apply_async(args, ignore_result=True, **options)


def prepare(release_id: str) -> None:
    _send(t.prepare_release, release_id)


def initialize(release_id: str, task_ids: list[str]) -> None:
    if not task_ids:
        _send(t.start_release, release_id)
        return
    header = (
        t.initialize_tasks.si(chunk).set(priority=INITIALIZE_PRIORITY)
        for chunk in _chunks(task_ids, INITIALIZE_BATCH)
    )
    chord(header)(t.start_release.si(release_id))


# Calls per batch message. Initialize uses smaller batches so that one release's calls still
# fan out over several worker processes.
INITIALIZE_BATCH = 10


def _chunks(ids: list[str], size: int = MAX_BATCH) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def start(task_ids: list[str]) -> None:
    """`start` to every task of a release at once: one batch message sends them concurrently."""
    for chunk in _chunks(task_ids):
        _send(t.send_batch, "start", chunk)


def publish(task_ids: list[str]) -> None:
    for chunk in _chunks(task_ids):
        _send(t.send_batch, "publish", chunk)


def cancel(release_id: str) -> None:
    _send(t.cancel_release, release_id)


def cancel_canvas(release_id: str, task_ids: list[str]) -> None:
    if not task_ids:
        _send(t.finish_cancel, release_id)
        return
    chord(t.cancel_tasks.si(chunk) for chunk in _chunks(task_ids))(t.finish_cancel.si(release_id))


def check_release(release_id: str) -> None:
    """Re-derive the release's next move from its tasks (reconciler, status_checks trigger)."""
    _send(t.check_release, release_id)


def check_tasks(task_ids: list[str]) -> None:
    """Poll these tasks: one batch message per task service (and per MAX_BATCH tasks)."""
    from domain.releases.models import Task

    by_service: dict[str, list[str]] = {}
    for tid, sid in Task.objects.filter(pk__in=task_ids).values_list("kf_id", "task_service_id"):
        by_service.setdefault(sid, []).append(tid)
    for ids in by_service.values():
        for chunk in _chunks(sorted(ids)):
            _send(t.check_batch, chunk, priority=POLL_PRIORITY)


def redrive(release_id: str, step: str, task_ids: list[str]) -> None:
    """The reconciler's way back into the lifecycle after a lost message."""
    if step == "prepare":
        prepare(release_id)
    elif step == "initialize":
        initialize(release_id, task_ids)
    elif step == "start":
        _send(t.start_release, release_id)
    elif step == "send_start":
        start(task_ids)
    elif step == "send_publish":
        publish(task_ids)
    elif step == "check":
        check_release(release_id)
    elif step == "cancel":
        cancel(release_id)
    elif step == "fail":
        _send(t.fail_release, release_id)
