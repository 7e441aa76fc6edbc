"""Tracker sweeps run by beat: reclaim tasks held too long, take and prune monitoring snapshots."""

from __future__ import annotations

from domain.tracker.counters import counters_fold
from domain.tracker.monitoring import snapshots_prune, snapshots_take
from domain.tracker.queue import tasks_reclaim_timed_out
from orchestrator.taskkit import regatta_task


@regatta_task("tracker.reclaim_timed_out_tasks")
def reclaim_timed_out_tasks(self) -> int:
    counters_fold()
    return tasks_reclaim_timed_out()


@regatta_task("tracker.monitoring_snapshot")
def monitoring_snapshot(self) -> dict:
    return {"taken": snapshots_take(), "pruned": snapshots_prune()}
