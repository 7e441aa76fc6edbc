"""Closed-task counters: tally rows written by each close, folded into the counters by a sweep.

Readers add the tallies not yet folded, so a count is exact at any moment.
"""

from __future__ import annotations

from django.db import connection

from domain.tracker.sql import dialect


def counters_fold() -> int:
    """Move every pending tally into the counters; returns how many (sql/<vendor>.py)."""
    return dialect().counters_fold()


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


def project_closed_count(*, project_id: int) -> int:
    return _closed_count(PROJECT_CLOSED_SQL, project_id)


def worker_closed_count(*, worker_id: int) -> int:
    return _closed_count(WORKER_CLOSED_SQL, worker_id)
