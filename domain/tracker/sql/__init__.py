"""The tracker's SQL, one module per database vendor.

Production runs on PostgreSQL; `make run` without DATABASE_URL runs on SQLite (the embedded
default). Where the queue needs SQL that only one of them speaks, postgresql.py and sqlite.py
each define it under the same name (the `Dialect` below), and `dialect()` picks the module once,
by the connection's vendor. common.py holds the column lists and the statements both speak.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Protocol

from django.db import connection, connections

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper


class NewTasks(Protocol):
    """A bulk submit's tasks, each as its values in common.NEW_TASK_NAMES order (queue.py).
    Iterating may raise the error of a refused task (the body is read as it is iterated); its
    length is known once it has been iterated to the end."""

    def __iter__(self) -> Iterator[tuple]: ...

    def __len__(self) -> int: ...


class Dialect(Protocol):
    """What postgresql.py and sqlite.py each define."""

    # Assign the best eligible task; RETURNING common.TASK_RETURNING.
    ASSIGN_SQL: str
    # A worker's failure: retries + 1 (capped), FAILED once max_retries is reached.
    FAIL_SQL: str
    # The held task's verification_count, locked until the end of the transaction.
    HELD_TASK_SQL: str
    # Unassign NEW tasks held past their max_assign_time.
    RECLAIM_SQL: str

    def task_close(self, *, cursor: CursorWrapper, params: dict, single: bool) -> bool: ...

    def tasks_insert(self, *, tasks: NewTasks) -> int: ...

    def counters_fold(self) -> int: ...

    def schema_complete(self, *, cursor: CursorWrapper) -> None: ...


def dialect_for(*, vendor: str) -> Dialect:
    return import_module(f"{__name__}.{vendor}")  # type: ignore[return-value]


@cache
def dialect() -> Dialect:
    """The SQL of the database in use (the default connection's vendor never changes)."""
    return dialect_for(vendor=connection.vendor)


def schema_complete(*, using: str = "default", **kwargs: object) -> None:
    """post_migrate: let the migrated database's dialect add what a migration cannot."""
    target = connections[using]
    with target.cursor() as cursor:
        dialect_for(vendor=target.vendor).schema_complete(cursor=cursor)
