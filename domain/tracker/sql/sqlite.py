"""The tracker's SQL on SQLite, the embedded default (`make run`): the names postgresql.py exposes.

The behaviour is the same; only the means differ:

- SQLite serialises writers. A write statement takes the database's one write lock when it starts,
  and so does every `transaction.atomic()` block (BEGIN IMMEDIATE, orchestrator/settings.py). So
  assignment needs no `SKIP LOCKED` (no two statements ever pick at once) and a read followed by
  a write inside atomic() needs no `FOR UPDATE`.
- No data-modifying CTEs: closing a task and folding the counters are several statements in one
  transaction.
- No COPY: a bulk submit is one `executemany` in one transaction.
- No `::numeric` or `LEAST`: REAL arithmetic and the scalar MIN().
- A deleted task's verification rows go by a trigger, as PostgreSQL's ON DELETE CASCADE removes
  them (migration 0002).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection, transaction

from domain.tracker.sql.common import (
    ASSIGN_TEMPLATE,
    CHAINED_VALUES,
    CLOSE_RETURNING,
    CLOSE_SINGLE,
    CLOSE_TEMPLATE,
    FAIL_TEMPLATE,
    HELD_TASK_SELECT,
    INSERT_TASK_SQL,
    NEW_TASK_COLUMNS,
    RECLAIM_TEMPLATE,
)

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

    from domain.tracker.sql import NewTasks

ASSIGN_SQL = ASSIGN_TEMPLATE.format(lock="")

FAIL_SQL = FAIL_TEMPLATE.format(least="MIN")

# No FOR UPDATE: the surrounding atomic() already holds the database's one write lock.
HELD_TASK_SQL = HELD_TASK_SELECT

# REAL: assign_time + a huge max_assign_time must not overflow int64. assign_time is a Unix time,
# so wherever the sum is near `now` both terms are far below 2**53 and the REAL sum is exact.
RECLAIM_SQL = RECLAIM_TEMPLATE.format(held_until="CAST(assign_time AS REAL) + max_assign_time")

_TALLY_SQL = "INSERT INTO tracker_closedtally (project_id, worker_id) VALUES (%s, %s)"
# The closed row comes back as `c`, one value per name; the WHERE clause is required anyway:
# SQLite cannot parse `INSERT … SELECT … ON CONFLICT` without one.
_CLOSED_ROW = ", ".join(f"%({name})s AS {name}" for name in CLOSE_RETURNING.split(", "))
_CHAIN_COPY_SQL = f"""
INSERT INTO tracker_task ({NEW_TASK_COLUMNS})
SELECT {CHAINED_VALUES}
FROM (SELECT {_CLOSED_ROW}) c JOIN tracker_project p ON p.id = c.project_id
WHERE p.chain_id IS NOT NULL
ON CONFLICT DO NOTHING
"""  # noqa: S608


def task_close(*, cursor: CursorWrapper, params: dict, single: bool) -> bool:
    """Delete the caller's task, count it and copy it to the chained project: one transaction.

    `single`: only a task that needs no verification (verification_count <= 1).
    """
    with transaction.atomic():
        cursor.execute(CLOSE_TEMPLATE.format(extra=CLOSE_SINGLE if single else ""), params)
        row = cursor.fetchone()
        if row is None:
            return False
        closed = dict(zip(CLOSE_RETURNING.split(", "), row, strict=True))
        cursor.execute(_TALLY_SQL, [closed["project_id"], closed["assignee_id"]])
        cursor.execute(_CHAIN_COPY_SQL, closed)
    return True


def tasks_insert(*, tasks: NewTasks) -> int:
    """Insert a bulk submit's tasks, skipping duplicate hashes; returns how many went in."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(INSERT_TASK_SQL, list(tasks))
        # sqlite3 sums the changes of every row; a skipped duplicate changed nothing.
        return cur.rowcount


# The same three steps as PostgreSQL's one statement, in one transaction. It holds the write lock
# from BEGIN (IMMEDIATE), so no close can add a tally between the counting updates and the delete,
# and readers see all three steps or none.
_FOLD_STEPS = (
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


def counters_fold() -> int:
    """Move every pending tally into the counters; returns how many."""
    with transaction.atomic(), connection.cursor() as cur:
        for step in _FOLD_STEPS:
            cur.execute(step)
        cur.execute("DELETE FROM tracker_closedtally")
        return cur.rowcount


# SQLite has no foreign key from verifications to tasks (the model's db_constraint=False), so this
# trigger does what 0002's ON DELETE CASCADE does on PostgreSQL, for every way a task is deleted:
# a close, a hard reset, the ORM.
_VERIFICATION_CASCADE_SQL = """
CREATE TRIGGER IF NOT EXISTS tracker_task_delete_verifications AFTER DELETE ON tracker_task
BEGIN
    DELETE FROM tracker_workerverifiestask WHERE task_id = OLD.id;
END
"""


def schema_complete(*, cursor: CursorWrapper) -> None:
    """After migrate: (re)create the trigger.

    Not a migration: SQLite alters a table by rebuilding it, which drops its triggers, so any later
    migration of tracker_task would silently remove one created once.
    """
    cursor.execute(_VERIFICATION_CASCADE_SQL)
