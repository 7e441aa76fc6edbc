"""Splitting a byte stream into lines with bounded memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

TRUNCATED = b"... [line truncated]\n"


def split_lines(chunks: Iterable[bytes], *, max_line: int) -> Iterator[bytes]:
    """Lines of the concatenated `chunks`, each ending in b"\\n" (one is added to an unfinished
    last line). A line longer than `max_line` bytes is cut there with a marker and the rest of it
    dropped, so no line is ever held whole in memory."""
    pending = bytearray()
    dropping = False
    for chunk in chunks:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start : end + 1]
            start = len(chunk) if end < 0 else end + 1
            if not dropping:
                pending += piece
                if len(pending) > max_line and not pending.endswith(b"\n"):
                    yield bytes(pending[:max_line]) + TRUNCATED
                    pending.clear()
                    dropping = True
                    continue
            if end >= 0:
                if dropping:
                    dropping = False
                else:
                    yield bytes(pending)
                    pending.clear()
    if pending:
        yield bytes(pending) + b"\n"
