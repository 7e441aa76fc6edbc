"""Sweeps of the releases family (beat and the compatibility triggers): polls due, timeouts, and
the reconciler, which re-drives a release whose next step was lost.

A sweep decides which releases and tasks to look at; every state change it causes is a
transition in services.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from domain.common.steps import step_after_commit, step_run
from domain.releases import services
from domain.releases.machines import RELEASE_LIVE, TASK_DEAD, TASK_LIVE
from domain.releases.models import Release, ReleaseState, Task, TaskState
from domain.releases.steps import (
    CancelRelease,
    CheckRelease,
    InitializeTasks,
    PollTasks,
    PrepareRelease,
    ReleaseStep,
    SendPublish,
    SendStart,
    StartRelease,
)

logger = logging.getLogger(__name__)
R = ReleaseState
T = TaskState


def _poll_step(task_ids: Iterable[str]) -> PollTasks:
    """One group of task ids per task service: a poll batch message asks one service."""
    groups: dict[str, list[str]] = {}
    rows = Task.objects.filter(pk__in=list(task_ids)).values_list("kf_id", "task_service_id")
    for task_id, service_id in rows:
        groups.setdefault(service_id, []).append(task_id)
    return PollTasks(groups=tuple(tuple(sorted(ids)) for _, ids in sorted(groups.items())))


def tasks_poll_due(*, interval: float, limit: int = 500) -> list[str]:
    """Claim the tasks whose status is due to be asked (running/publishing, start acknowledged)
    and poll them. Claiming pushes next_check_at one interval ahead, so overlapping sweeps never
    double-poll."""
    now = timezone.now()
    # Half a second of slack so a beat tick that lands just early still polls this round.
    due = now + timedelta(seconds=min(0.5, interval / 4))
    with transaction.atomic():
        ids = list(
            Task.objects.select_for_update(skip_locked=True)
            .filter(state__in=(T.RUNNING, T.PUBLISHING), pending_action="")
            .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=due))
            .values_list("kf_id", flat=True)[:limit]
        )
        Task.objects.filter(pk__in=ids).update(next_check_at=now + timedelta(seconds=interval))
        if ids:
            step_after_commit(_poll_step(ids))
    return ids


def tasks_check_status() -> int:
    """POST /tasks/status_checks: poll every running/publishing task now (a broker error reaches
    the caller). Returns how many tasks are polled."""
    ids = list(
        Task.objects.filter(state__in=(T.RUNNING, T.PUBLISHING), pending_action="").values_list(
            "kf_id", flat=True
        )
    )
    step_run(_poll_step(ids))
    return len(ids)


def releases_check_status() -> int:
    """POST /releases/status_checks: re-derive every live release's next move from its tasks
    (a broker error reaches the caller). Returns how many releases are checked."""
    ids = list(
        Release.objects.filter(
            state__in=(R.INITIALIZING, R.RUNNING, R.PUBLISHING, R.CANCELING)
        ).values_list("kf_id", flat=True)
    )
    for release_id in ids:
        step_run(CheckRelease(release_id=release_id))
    return len(ids)


def releases_sweep_timeouts(*, task_timeout: float, release_timeout: float) -> dict[str, list[str]]:
    """Cancel the release of every task, and every release, idle past its timeout since its last
    transition (QUIRK fix: the task's own release is canceled, not a release with the task id)."""
    now = timezone.now()
    timed_out_tasks = list(
        Task.objects.filter(
            state__in=(T.WAITING, T.INITIALIZED, T.RUNNING, T.PUBLISHING),
            state_changed_at__lt=now - timedelta(seconds=task_timeout),
            release__state__in=RELEASE_LIVE,
        ).values_list("kf_id", "release_id", "state")
    )
    for task_id, release_id, state in timed_out_tasks:
        services.release_time_out(
            release_id=release_id,
            task_id=task_id,
            message=f"task {task_id} timed out after {int(task_timeout)} s in state {state}",
        )
    stale = list(
        Release.objects.filter(state__in=(R.INITIALIZING, R.RUNNING, R.PUBLISHING))
        .filter(state_changed_at__lt=now - timedelta(seconds=release_timeout))
        .exclude(tasks__state_changed_at__gte=now - timedelta(seconds=release_timeout))
        .values_list("kf_id", flat=True)
        .distinct()
    )
    for release_id in stale:
        services.release_time_out(
            release_id=release_id,
            message=f"release {release_id} timed out after {int(release_timeout)} s",
        )
    return {"tasks": [t[0] for t in timed_out_tasks], "releases": stale}


def releases_reconcile(*, stale_after: float) -> list[str]:
    """Re-drive every release whose next step may have been lost (a Redis flush, a killed
    worker): nothing has happened to it for `stale_after` seconds. Steps are idempotent, so a
    needless re-drive is harmless."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    candidates = list(
        Release.objects.filter(
            state__in=(R.WAITING, R.INITIALIZING, R.RUNNING, R.PUBLISHING, R.CANCELING)
        )
        .alias(last=Greatest("state_changed_at", Coalesce("redriven_at", "state_changed_at")))
        .filter(last__lt=cutoff)
        .values_list("kf_id", flat=True)
    )
    redriven = []
    for release_id in candidates:
        step = release_next_step(release_id=release_id, stale_before=cutoff)
        if step is None:
            continue
        claimed = (
            Release.objects.filter(pk=release_id)
            .filter(Q(redriven_at__isnull=True) | Q(redriven_at__lt=cutoff))
            .update(redriven_at=now)
        )
        if claimed:
            logger.info("reconciler re-drives %s: %r", release_id, step)
            step_after_commit(step)
            redriven.append(release_id)
    return redriven


def release_redrive(*, release_id: str, stale_before: datetime) -> ReleaseStep | None:
    """Schedule the release's next step again (the reconciler's way back into the lifecycle
    after a lost message). Returns the step, or None when nothing is owed."""
    step = release_next_step(release_id=release_id, stale_before=stale_before)
    if step is not None:
        step_after_commit(step)
    return step


def release_next_step(*, release_id: str, stale_before: datetime) -> ReleaseStep | None:
    """What the release is waiting for, read from its rows; a pending call counts as lost only
    when its task has not moved since `stale_before`."""
    release = Release.objects.get(pk=release_id)
    tasks = list(
        Task.objects.filter(release_id=release_id).values_list(
            "kf_id", "state", "pending_action", "state_changed_at"
        )
    )
    states = {t[1] for t in tasks}
    if release.state == R.WAITING:
        return PrepareRelease(release_id=release_id)
    if release.state == R.CANCELING:
        live = tuple(t[0] for t in tasks if t[1] in TASK_LIVE)
        return CancelRelease(release_id=release_id, task_ids=live)
    if states & TASK_DEAD:
        # A task is down but the release did not follow (a lost step): the check ends it.
        return CheckRelease(release_id=release_id)
    if release.state == R.INITIALIZING:
        waiting = tuple(t[0] for t in tasks if t[1] == T.WAITING)
        if waiting:
            return InitializeTasks(release_id=release_id, task_ids=waiting)
        return StartRelease(release_id=release_id)
    stuck = tuple(t[0] for t in tasks if t[2] and t[3] < stale_before)
    if release.state == R.RUNNING:
        if states == {T.STAGED}:
            return CheckRelease(release_id=release_id)
        return SendStart(release_id=release_id, task_ids=stuck) if stuck else None
    if release.state == R.PUBLISHING:
        if states <= {T.PUBLISHED}:
            return CheckRelease(release_id=release_id)
        return SendPublish(release_id=release_id, task_ids=stuck) if stuck else None
    return None
