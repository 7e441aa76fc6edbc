"""The tracker's SQL on PostgreSQL (production). sqlite.py exposes the same names for the embedded
default; domain/tracker/sql/__init__.py picks one by the connection's vendor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction

from domain.tracker.sql.common import (
    ASSIGN_TEMPLATE,
    CHAINED_VALUES,
    CLOSE_SINGLE,
    CLOSE_TEMPLATE,
    FAIL_TEMPLATE,
    HELD_TASK_SELECT,
    NEW_TASK,
    NEW_TASK_COLUMNS,
    NEW_TASK_TYPES,
    RECLAIM_TEMPLATE,
)

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

    from domain.tracker.sql import NewTasks

# Concurrent workers skip each other's candidate rows instead of queueing on a global lock.
ASSIGN_SQL = ASSIGN_TEMPLATE.format(lock="FOR UPDATE SKIP LOCKED")

FAIL_SQL = FAIL_TEMPLATE.format(least="LEAST")

HELD_TASK_SQL = HELD_TASK_SELECT + " FOR UPDATE"

# numeric: assign_time + a huge max_assign_time must not overflow bigint.
RECLAIM_SQL = RECLAIM_TEMPLATE.format(held_until="assign_time::numeric + max_assign_time")

# Deleting an assigned task closes it: a tally row counts it for the project and the worker and a
# copy goes to the chained project (a duplicate hash there is skipped), all in this one statement.
# The tally is an insert rather than `UPDATE project SET closed_task_count + 1`, which would make
# every close in a project wait for the previous one's commit on that row's lock.
_CLOSE_SQL = f"""
WITH closed AS ({CLOSE_TEMPLATE}), tally AS (
    INSERT INTO tracker_closedtally (project_id, worker_id)
    SELECT project_id, assignee_id FROM closed
), chained AS (
    INSERT INTO tracker_task ({NEW_TASK_COLUMNS})
    SELECT {CHAINED_VALUES}
    FROM closed c JOIN tracker_project p ON p.id = c.project_id
    WHERE p.chain_id IS NOT NULL
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM closed
"""  # noqa: S608
CLOSE_SINGLE_SQL = _CLOSE_SQL.format(extra=CLOSE_SINGLE)
CLOSE_VERIFIED_SQL = _CLOSE_SQL.format(extra="")


def task_close(*, cursor: CursorWrapper, params: dict, single: bool) -> bool:
    """Delete the caller's task, count it and copy it to the chained project: one statement.

    `single`: only a task that needs no verification (verification_count <= 1).
    """
    cursor.execute(CLOSE_SINGLE_SQL if single else CLOSE_VERIFIED_SQL, params)
    return cursor.fetchone()[0] == 1


_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_COPY_LINE = "\t".join(["%s"] * len(NEW_TASK)) + "\n"
_NULLABLE = tuple(i for i, c in enumerate(NEW_TASK) if c.nullable)
_TEXT = tuple(i for i, c in enumerate(NEW_TASK) if c.new == "text")


def copy_line(values: tuple) -> str:
    """One new task as a line of COPY's text format (a bulk submit makes 100,000: only the
    columns that may need it are looked at, and the line is one `%`)."""
    for i in _NULLABLE:
        if values[i] is None:
            values = (*values[:i], _NULL, *values[i + 1 :])
    for i in _TEXT:
        text = values[i]
        # Most recipes need no escaping; checking is ten times cheaper than translating.
        if "\\" in text or not text.isprintable():
            values = (*values[:i], text.translate(_COPY_ESCAPES), *values[i + 1 :])
    return _COPY_LINE % values


class _CopySource:
    """The COPY text of a batch, made as psycopg2 reads it: a bulk submit's whole COPY text (as
    large as its body, and four times that in a StringIO) never sits in memory at once, and
    the server inserts one chunk while the next is made."""

    def __init__(self, tasks: Iterable[tuple]) -> None:
        self.tasks = tasks
        self.error: Exception | None = None
        self.rewind()

    def rewind(self) -> None:
        self.lines = map(copy_line, self.tasks)

    def read(self, size: int = -1) -> str:
        # psycopg2 sends whatever one call returns, so a chunk may overshoot `size` by a line.
        chunk, length = [], 0
        try:
            for line in self.lines:
                chunk.append(line)
                length += len(line)
                if length >= size > 0:
                    break
        except Exception as exc:
            # psycopg2 aborts the COPY with only this error's text: copy_into raises it whole.
            self.error = exc
            raise
        return "".join(chunk)


def _copy_into(raw_cursor, table: str, source: _CopySource) -> None:
    """COPY the source's rows into `table`; a task refused while they were read (TrackerError)
    is raised as itself rather than as the QueryCanceled psycopg2 turns it into."""
    try:
        raw_cursor.copy_expert(f"COPY {table} ({NEW_TASK_COLUMNS}) FROM STDIN", source)
    except connection.Database.Error:
        if source.error is not None:
            raise source.error from None
        raise


_INSERT_FROM_BULK_SQL = (
    f"INSERT INTO tracker_task ({NEW_TASK_COLUMNS}) SELECT {NEW_TASK_COLUMNS} FROM tracker_bulk"  # noqa: S608
    " ON CONFLICT DO NOTHING"
)


def tasks_insert(*, tasks: NewTasks) -> int:
    """COPY a bulk submit's tasks in, skipping duplicate hashes; returns how many went in."""
    source = _CopySource(tasks)
    with transaction.atomic(), connection.cursor() as cur:
        raw = cur.cursor
        # COPY straight into the table, as the body is read: it fails only if a hash is there
        # already, twice in the batch, or being inserted by another submit right now; then the
        # batch (read to its end by then) goes through the deduplicating path below. The raw
        # cursor raises the driver's IntegrityError, which Django does not translate.
        try:
            with transaction.atomic():
                _copy_into(raw, "tracker_task", source)
            return len(tasks)
        except (IntegrityError, connection.Database.IntegrityError):
            source.rewind()
        raw.execute(f"CREATE TEMP TABLE tracker_bulk ({NEW_TASK_TYPES}) ON COMMIT DROP")
        _copy_into(raw, "tracker_bulk", source)
        raw.execute(_INSERT_FROM_BULK_SQL)
        return raw.rowcount


_FOLD_SQL = """
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
        cur.execute(_FOLD_SQL)
        return cur.fetchone()[0]


def schema_complete(*, cursor: CursorWrapper) -> None:
    """After migrate: nothing to add (0002's ON DELETE CASCADE removes a task's verifications)."""
