"""An execution's output, kept in the database in chunks of lines (never whole in memory)."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import F

from domain.executions.models import Execution, LogChunk

REPLACEMENT = "\ufffd"
SURROGATE = re.compile("[\ud800-\udfff]")


def execution_log_append(
    *, execution_id: str, first_line: int, lines: list[str], stderr: list[int] | None = None
) -> int:
    """Store `lines` as lines first_line… of the execution's output and return the next line
    number; `stderr` lists the indexes (into `lines`, ascending) of those that came from stderr.
    Lines are counted by their "\\n" (one is added to an unfinished last line), so the numbers
    always match what the pages return. The supervisor numbers its lines itself; a chunk
    written twice (a retried write) is stored once: the second finds the first."""
    text = storable("".join(lines))
    if not text:
        return first_line
    if not text.endswith("\n"):
        text += "\n"
    count = text.count("\n")
    try:
        with transaction.atomic():
            LogChunk.objects.create(
                execution_id=execution_id,
                first_line=first_line,
                line_count=count,
                text=text,
                stderr=stderr_ranges(stderr or []),
            )
            Execution.objects.filter(pk=execution_id).update(log_lines=F("log_lines") + count)
    except IntegrityError:
        # A retried write whose first answer was lost: those lines are stored already.
        stored = (
            LogChunk.objects.filter(execution_id=execution_id, first_line=first_line)
            .values_list("line_count", flat=True)
            .first()
        )
        if stored is None:
            raise
        return first_line + stored
    return first_line + count


def stderr_ranges(indexes: list[int]) -> list[list[int]]:
    """Ascending indexes as [start, stop) ranges: a traced script's many consecutive stderr
    lines cost one pair, not one number each."""
    ranges: list[list[int]] = []
    for index in indexes:
        if ranges and ranges[-1][1] == index:
            ranges[-1][1] = index + 1
        else:
            ranges.append([index, index + 1])
    return ranges


def storable(text: str) -> str:
    """`text` as PostgreSQL can store it: a NUL, which text columns refuse, and a lone surrogate,
    which UTF-8 cannot encode, each become U+FFFD, so no output can make the write fail."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = SURROGATE.sub(REPLACEMENT, text)
    return text
