"""Plain field writes shared by every family's services."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def row_save_fields(*, row: M, fields: dict[str, Any]) -> M:
    """Set `fields` on `row` and save only those columns (nothing is written when empty)."""
    for name, value in fields.items():
        setattr(row, name, value)
    if fields:
        row.save(update_fields=list(fields))
    return row
