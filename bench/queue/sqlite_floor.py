"""The embedded default's floors: the tracker's SQLite statements issued straight by sqlite3.

A client connects as Django's SQLite backend does for the service (the same pragmas, autocommit,
`BEGIN IMMEDIATE` for a transaction) to a copy of the service's database file, so its rate is
the database work of get + release (or of a bulk insert) without the web stack.
"""

from __future__ import annotations

import re
import sqlite3
import time

from domain.tracker.sql.common import (
    CLOSE_RETURNING,
    CLOSE_SINGLE,
    CLOSE_TEMPLATE,
    CONTEXT_SQL,
    INSERT_TASK_SQL,
)
from domain.tracker.sql.sqlite import _CHAIN_COPY_SQL, _TALLY_SQL, ASSIGN_SQL


def qmark(sql: str) -> str:
    """Django's `%(name)s` / `%s` placeholders as sqlite3's `:name` / `?` (as its backend does)."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql).replace("%s", "?")


_CONTEXT = qmark(CONTEXT_SQL)
_ASSIGN = qmark(ASSIGN_SQL)
_CLOSE = qmark(CLOSE_TEMPLATE.format(extra=CLOSE_SINGLE))
_TALLY = qmark(_TALLY_SQL)
_CHAIN_COPY = qmark(_CHAIN_COPY_SQL)
_INSERT = qmark(INSERT_TASK_SQL)
_CLOSED_NAMES = CLOSE_RETURNING.split(", ")


def connect(path: str, pragmas: list[str]) -> sqlite3.Connection:
    """What django.db.backends.sqlite3 runs on a new connection, then the service's init_command;
    autocommit, the service's 30 s busy timeout."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA legacy_alter_table = OFF")
    for pragma in pragmas:
        conn.execute(pragma).fetchall()
    return conn


def drain_sqlite(
    path: str, pragmas: list[str], worker_id: int, project: int, start_at: float
) -> int:
    """Per task, what the service runs on SQLite for get + release: the context read and the
    assignment in autocommit, then the close (delete, tally, chained copy) in one BEGIN
    IMMEDIATE transaction. The service also opens a connection per request (CONN_MAX_AGE 0 on
    SQLite); the floor keeps one."""
    conn = connect(path, pragmas)
    time.sleep(max(0.0, start_at - time.time()))
    closed = 0
    while True:
        conn.execute(_CONTEXT, {"project": project, "worker": worker_id}).fetchone()
        row = conn.execute(
            _ASSIGN, {"worker": worker_id, "now": int(time.time()), "project": project}
        ).fetchone()
        if row is None:
            conn.close()
            return closed
        closed += _close(conn, {"task": row[0], "worker": worker_id})


def _close(conn: sqlite3.Connection, params: dict) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(_CLOSE, params).fetchone()
        if row is not None:
            task = dict(zip(_CLOSED_NAMES, row, strict=True))
            conn.execute(_TALLY, [task["project_id"], task["assignee_id"]])
            conn.execute(_CHAIN_COPY, task)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return int(row is not None)


def insert_sqlite(path: str, pragmas: list[str], rows: list[tuple]) -> int:
    """A bulk submit's insert as the service runs it on SQLite: one executemany of INSERT … ON
    CONFLICT DO NOTHING in one transaction; returns the rows inserted."""
    conn = connect(path, pragmas)
    conn.execute("BEGIN IMMEDIATE")
    inserted = conn.executemany(_INSERT, rows).rowcount
    conn.execute("COMMIT")
    conn.close()
    return inserted
