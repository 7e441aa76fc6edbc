"""Closed-task counters: tally rows written by each close, folded into the counters by a sweep.

Readers add the tallies not yet folded, so a count is exact at any moment.
"""

from __future__ import annotations

from django.db import connection

from domain.tracker.models import ClosedTally, Project, Worker

FOLD_SQL = """
WITH moved AS (
    DELETE FROM tracker_closedtally RETURNING project_id, worker_id
), projects AS (
    UPDATE tracker_project p SET closed_task_count = p.closed_task_count + m.n
    FROM (SELECT project_id, count(*) AS n FROM moved GROUP BY project_id) m
    WHERE p.id = m.project_id
), workers AS (
    UPDATE tracker_worker w SET closed_task_count = w.closed_task_count + m.n
    FROM (SELECT worker_id, count(*) AS n FROM moved GROUP BY worker_id) m
    WHERE w.id = m.worker_id
)
SELECT count(*) FROM moved
"""


def counters_fold() -> int:
    """Move every pending tally into the counters in one statement; returns how many."""
    with connection.cursor() as cur:
        cur.execute(FOLD_SQL)
        return cur.fetchone()[0]


def project_closed_count(project_id: int) -> int:
    base = Project.objects.filter(pk=project_id).values_list("closed_task_count", flat=True)
    return (base.first() or 0) + ClosedTally.objects.filter(project_id=project_id).count()


def worker_closed_count(worker_id: int) -> int:
    base = Worker.objects.filter(pk=worker_id).values_list("closed_task_count", flat=True)
    return (base.first() or 0) + ClosedTally.objects.filter(worker_id=worker_id).count()
