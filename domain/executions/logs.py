"""An execution's output, kept in the database in chunks of lines (never whole in memory)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from domain.executions.models import Execution, LogChunk


def execution_log_append(*, execution_id: str, first_line: int, lines: list[str]) -> int:
    """Store `lines` (each ending in "\\n") as lines first_line… of the execution's output.
    The supervisor numbers its lines itself; a chunk stored twice (a retried write) is refused
    by the unique constraint rather than doubled. Returns the next line number."""
    if not lines:
        return first_line
    with transaction.atomic():
        LogChunk.objects.create(
            execution_id=execution_id,
            first_line=first_line,
            line_count=len(lines),
            text="".join(lines),
        )
        Execution.objects.filter(pk=execution_id).update(log_lines=F("log_lines") + len(lines))
    return first_line + len(lines)
