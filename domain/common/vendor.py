"""One database operation with a body per database vendor, chosen when it is called.

Production runs on PostgreSQL; `make run` without DATABASE_URL runs on SQLite (the embedded
default). Where an operation needs SQL that only one of them speaks, it names both bodies once,
with `by_vendor`, instead of testing `connection.vendor` at each call site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection


def by_vendor(**bodies: Callable[..., Any]) -> Callable[..., Any]:
    """A callable that runs `bodies[connection.vendor]` (keys: "postgresql", "sqlite")."""

    def dispatch(*args: Any, **kwargs: Any) -> Any:
        return bodies[connection.vendor](*args, **kwargs)

    return dispatch


def vendor_sql(statements: dict[str, str]) -> str:
    """The statement of the vendor in use, from `{"postgresql": …, "sqlite": …}`."""
    return statements[connection.vendor]
