"""Reads of executions: the rows, their events and their output."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from domain.common.errors import NotFound
from domain.executions.models import Execution, ExecutionEvent, ExecutionState, LogChunk

# Chunks read per query while streaming a whole log: bounded memory, few round trips.
STREAM_BATCH = 20


def execution_get(*, execution_id: str) -> Execution:
    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    return execution


def executions_queued(*, cluster: str) -> bool:
    """Whether an execution of `cluster` waits for a slot."""
    return Execution.objects.filter(cluster=cluster, state=ExecutionState.QUEUED).exists()


def execution_events(*, execution_id: str) -> QuerySet[ExecutionEvent]:
    return ExecutionEvent.objects.filter(execution_id=execution_id).order_by("id")


def execution_log_page(
    *, execution_id: str, after_line: int, max_lines: int = 256
) -> tuple[str, int]:
    """Up to `max_lines` lines from line `after_line` on, and the line to ask for next (equal
    to `after_line` when there is nothing new)."""
    after_line = max(0, after_line)
    # The chunk holding `after_line` starts at or before it; the ones after it start within the
    # page. Chunks are contiguous, so these few rows hold the page: at most the first and last
    # chunks' lines beyond it are read, never the whole log.
    start = (
        LogChunk.objects.filter(execution_id=execution_id, first_line__lte=after_line)
        .order_by("-first_line")
        .values_list("first_line", flat=True)
        .first()
    )
    chunks = (
        LogChunk.objects.filter(
            execution_id=execution_id,
            first_line__gte=start or 0,
            first_line__lte=after_line + max_lines,
        )
        .order_by("first_line")
        .values_list("first_line", "text")
    )
    lines: list[str] = []
    next_line = after_line
    for first_line, text in chunks:
        skip = max(0, after_line - first_line)
        if first_line + skip != next_line:
            break  # a gap: a chunk not yet written; the caller asks again from here
        take = _lines(text)[skip : skip + max_lines - len(lines)]
        lines.extend(take)
        next_line += len(take)
        if len(lines) >= max_lines:
            break
    return "".join(lines), next_line


def execution_log_iter(*, execution_id: str) -> Iterator[str]:
    """The whole output, chunk by chunk, reading a few chunks at a time."""
    for text, _ in execution_log_chunks(execution_id=execution_id):
        yield text


def execution_log_chunks(*, execution_id: str) -> Iterator[tuple[str, list[list[int]]]]:
    """The whole output, chunk by chunk (each with its stderr ranges: LogChunk.stderr), reading
    a few chunks at a time."""
    after = -1
    while True:
        batch = list(
            LogChunk.objects.filter(execution_id=execution_id, first_line__gt=after)
            .order_by("first_line")
            .values_list("first_line", "text", "stderr")[:STREAM_BATCH]
        )
        if not batch:
            return
        for first_line, text, stderr in batch:
            yield text, stderr
            after = first_line


def stderr_flags(ranges: list[list[int]], count: int) -> list[bool]:
    """For each of a chunk's `count` lines, whether it came from stderr."""
    flags = [False] * count
    for start, stop in ranges:
        flags[start:stop] = [True] * (min(stop, count) - start)
    return flags


def _lines(text: str) -> list[str]:
    # Only "\n" ends a line: a "\r" of a progress bar stays inside its line.
    return [line + "\n" for line in text.split("\n")[:-1]]
