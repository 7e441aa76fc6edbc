"""SQLite bodies of the queue's PostgreSQL-only statements, for the embedded default (`make run`).

queue.py keeps the PostgreSQL statements and picks these by `connection.vendor`. The behaviour is
the same; only the means differ:

- SQLite serialises writers. A write statement takes the database's one write lock when it starts,
  and so does every `transaction.atomic()` block (BEGIN IMMEDIATE, orchestrator/settings.py). So
  assignment needs no `SKIP LOCKED` (no two statements ever pick at once) and a read followed by
  a write inside atomic() needs no `FOR UPDATE`.
- No data-modifying CTEs: closing a task is several statements in one transaction.
- No COPY: a bulk submit is one `executemany` in one transaction.
- No `::numeric` or `LEAST`: REAL arithmetic and the scalar MIN().
- A deleted task's verification rows go by a trigger, as PostgreSQL's ON DELETE CASCADE removes
  them (migration 0002).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection, connections, transaction

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

    from domain.tracker.queue import SubmitRequest

FAIL_SQL = """
UPDATE tracker_task
SET retries = MIN(retries + 1, 32767), assignee_id = NULL,
    status = CASE WHEN retries + 1 >= max_retries THEN 2 ELSE 1 END
WHERE id = %(task)s AND assignee_id = %(worker)s
"""

HELD_TASK_SQL = (
    "SELECT verification_count FROM tracker_task WHERE id = %(task)s AND assignee_id = %(worker)s"
)

# REAL: assign_time + a huge max_assign_time must not overflow int64. assign_time is a Unix time,
# so wherever the sum is near `now` both terms are far below 2**53 and the REAL sum is exact.
RECLAIM_SQL = (
    "UPDATE tracker_task SET assignee_id = NULL, assign_time = NULL"
    " WHERE status = 1 AND assignee_id IS NOT NULL"
    " AND CAST(assign_time AS REAL) + max_assign_time < %s"
)

CLOSE_DELETE_SQL = """
DELETE FROM tracker_task
WHERE id = %(task)s AND assignee_id = %(worker)s {extra}
RETURNING project_id, assignee_id, priority, max_retries, recipe, max_assign_time,
          verification_count, hash64
"""
TALLY_SQL = "INSERT INTO tracker_closedtally (project_id, worker_id) VALUES (%s, %s)"
# The WHERE clause is required anyway: SQLite cannot parse `INSERT … SELECT … ON CONFLICT` without
# one.
CHAIN_COPY_SQL = """
INSERT INTO tracker_task (project_id, priority, retries, max_retries, status, recipe,
                          max_assign_time, verification_count, hash64)
SELECT p.chain_id, %s, 0, %s, 1, %s, %s, %s, %s
FROM tracker_project p WHERE p.id = %s AND p.chain_id IS NOT NULL
ON CONFLICT DO NOTHING
"""

BULK_INSERT_SQL = """
INSERT INTO tracker_task (project_id, priority, retries, max_retries, status, recipe,
                          max_assign_time, verification_count, hash64)
VALUES (%s, %s, 0, %s, 1, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""


def close(cur: CursorWrapper, params: dict, *, single: bool) -> bool:
    """Delete the caller's task, count it and copy it to the chained project: one transaction.

    `single`: only a task that needs no verification (verification_count <= 1).
    """
    extra = "AND verification_count <= 1" if single else ""
    with transaction.atomic():
        cur.execute(CLOSE_DELETE_SQL.format(extra=extra), params)
        row = cur.fetchone()
        if row is None:
            return False
        project_id, worker_id, priority, max_retries, recipe, max_assign_time, count, hash64 = row
        cur.execute(TALLY_SQL, [project_id, worker_id])
        cur.execute(
            CHAIN_COPY_SQL,
            [priority, max_retries, recipe, max_assign_time, count, hash64, project_id],
        )
    return True


def insert_tasks(project_id: int, reqs: list[SubmitRequest]) -> int:
    """Insert the tasks, skipping duplicate hashes; returns how many went in."""
    rows = [
        (
            project_id,
            r.priority,
            r.max_retries,
            r.recipe,
            r.max_assign_time,
            r.verification_count or 1,
            r.hash64(),
        )
        for r in reqs
    ]
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(BULK_INSERT_SQL, rows)
        # sqlite3 sums the changes of every row; a skipped duplicate changed nothing.
        return cur.rowcount


# SQLite has no foreign key from verifications to tasks (the model's db_constraint=False), so this
# trigger does what 0002's ON DELETE CASCADE does on PostgreSQL, for every way a task is deleted:
# a close, a hard reset, the ORM.
VERIFICATION_CASCADE_SQL = """
CREATE TRIGGER IF NOT EXISTS tracker_task_delete_verifications AFTER DELETE ON tracker_task
BEGIN
    DELETE FROM tracker_workerverifiestask WHERE task_id = OLD.id;
END
"""


def ensure_verification_cascade(*, using: str = "default", **kwargs: object) -> None:
    """post_migrate: (re)create the trigger on SQLite.

    Not a migration: SQLite alters a table by rebuilding it, which drops its triggers, so any later
    migration of tracker_task would silently remove one created once.
    """
    target = connections[using]
    if target.vendor == "sqlite":
        with target.cursor() as cur:
            cur.execute(VERIFICATION_CASCADE_SQL)
