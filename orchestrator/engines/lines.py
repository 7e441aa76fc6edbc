"""Splitting a byte stream into lines with bounded memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

TRUNCATED = b"... [line truncated]\n"


def split_lines(chunks: Iterable[bytes], *, max_line: int) -> Iterator[bytes]:
    """Lines of the concatenated `chunks`, each ending in b"\\n" (one is added to an unfinished
    last line). A line longer than `max_line` bytes (its newline aside) is cut there with a
    marker and the rest of it dropped, the same way however the stream was read, so no line is
    ever held whole in memory: at most `max_line` bytes wait here."""
    pending = bytearray()
    dropping = False
    for chunk in chunks:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            stop = len(chunk) if end < 0 else end
            if not dropping:
                room = max_line - len(pending)
                pending += chunk[start : min(stop, start + room)]
                if stop - start > room:
                    yield bytes(pending) + TRUNCATED
                    pending.clear()
                    dropping = True
            if end < 0:
                break
            if dropping:
                dropping = False
            else:
                yield bytes(pending) + b"\n"
                pending.clear()
            start = end + 1
    if pending:
        yield bytes(pending) + b"\n"
