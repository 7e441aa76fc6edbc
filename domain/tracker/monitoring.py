"""Per-project monitoring snapshots: taken by a beat sweep, read by the UI endpoints."""

from __future__ import annotations

import time

from django.db import connection

from domain.tracker import conf
from domain.tracker.models import MonitoringSnapshot

SNAPSHOT_SQL = """
INSERT INTO tracker_monitoringsnapshot
    (project_id, new_task_count, failed_task_count, closed_task_count, worker_access_count,
     awaiting_verification_count, time_stamp)
SELECT p.id,
    (SELECT count(*) FROM tracker_task t WHERE t.project_id = p.id AND t.status = 1
        AND NOT EXISTS (SELECT 1 FROM tracker_workerverifiestask v WHERE v.task_id = t.id)),
    (SELECT count(*) FROM tracker_task t WHERE t.project_id = p.id AND t.status = 2),
    p.closed_task_count
        + (SELECT count(*) FROM tracker_closedtally c WHERE c.project_id = p.id),
    (SELECT count(*) FROM tracker_workeraccess a WHERE a.project_id = p.id),
    (SELECT count(*) FROM tracker_workerverifiestask v
        JOIN tracker_task t ON t.id = v.task_id WHERE t.project_id = p.id),
    %s
FROM tracker_project p
"""

FIELDS = (
    "new_task_count",
    "failed_task_count",
    "closed_task_count",
    "worker_access_count",
    "awaiting_verification_count",
    "time_stamp",
)


def snapshots_take(*, now: int | None = None) -> int:
    now = int(time.time()) if now is None else now
    with connection.cursor() as cur:
        cur.execute(SNAPSHOT_SQL, [now])
        return cur.rowcount


def snapshots_prune(*, now: int | None = None) -> int:
    now = int(time.time()) if now is None else now
    cutoff = now - conf.MONITORING_HISTORY_SECONDS
    deleted, _ = MonitoringSnapshot.objects.filter(time_stamp__lt=cutoff).delete()
    return deleted


def snapshots_latest(*, project_id: int, count: int) -> list[dict]:
    rows = MonitoringSnapshot.objects.filter(project_id=project_id).order_by("-time_stamp", "-id")
    return list(rows.values(*FIELDS)[:count])


def snapshots_between(*, project_id: int, start: int, end: int) -> list[dict]:
    rows = MonitoringSnapshot.objects.filter(
        project_id=project_id, time_stamp__gte=start, time_stamp__lte=end
    ).order_by("-time_stamp", "-id")
    return list(rows.values(*FIELDS))
