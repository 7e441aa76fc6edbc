"""Closed-task counters: tally rows written by each close, folded into the counters by a sweep.

Readers add the tallies not yet folded, so a count is exact at any moment.
"""

from __future__ import annotations

from django.db import connection, transaction

from domain.common.vendor import by_vendor

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
    """Move every pending tally into the counters; returns how many."""
    return _fold()


def _fold_postgresql() -> int:
    with connection.cursor() as cur:
        cur.execute(FOLD_SQL)
        return cur.fetchone()[0]


# SQLite has no data-modifying CTEs: the same three steps, one statement each, in one transaction.
# It holds the write lock from BEGIN (IMMEDIATE), so no close can add a tally between the counting
# updates and the delete, and readers see all three steps or none.
FOLD_SQLITE_STEPS = (
    """
    UPDATE tracker_project AS p SET closed_task_count = p.closed_task_count + m.n
    FROM (SELECT project_id, count(*) AS n FROM tracker_closedtally GROUP BY project_id) AS m
    WHERE p.id = m.project_id
    """,
    """
    UPDATE tracker_worker AS w SET closed_task_count = w.closed_task_count + m.n
    FROM (SELECT worker_id, count(*) AS n FROM tracker_closedtally GROUP BY worker_id) AS m
    WHERE w.id = m.worker_id
    """,
)


def _fold_sqlite() -> int:
    with transaction.atomic(), connection.cursor() as cur:
        for step in FOLD_SQLITE_STEPS:
            cur.execute(step)
        cur.execute("DELETE FROM tracker_closedtally")
        return cur.rowcount


_fold = by_vendor(postgresql=_fold_postgresql, sqlite=_fold_sqlite)


# The counter and the pending tallies are read by one statement, so both come from one snapshot:
# a fold committing between two separate reads would count its tallies twice or not at all.
PROJECT_CLOSED_SQL = """
SELECT p.closed_task_count
       + (SELECT count(*) FROM tracker_closedtally c WHERE c.project_id = p.id)
FROM tracker_project p WHERE p.id = %s
"""
WORKER_CLOSED_SQL = """
SELECT w.closed_task_count
       + (SELECT count(*) FROM tracker_closedtally c WHERE c.worker_id = w.id)
FROM tracker_worker w WHERE w.id = %s
"""


def _closed_count(sql: str, key: int) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, [key])
        row = cur.fetchone()
    return row[0] if row else 0


def project_closed_count(project_id: int) -> int:
    return _closed_count(PROJECT_CLOSED_SQL, project_id)


def worker_closed_count(worker_id: int) -> int:
    return _closed_count(WORKER_CLOSED_SQL, worker_id)
