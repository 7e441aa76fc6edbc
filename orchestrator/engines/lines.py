"""Splitting a byte stream into lines with bounded memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

TRUNCATED = b"... [line truncated]\n"


class LineSplitter:
    """Lines of a stream fed a chunk at a time, each ending in b"\\n" (one is added to an
    unfinished last line by `finish`). A line longer than `max_line` bytes (its newline aside)
    is cut there with a marker and the rest of it dropped, the same way however the stream was
    read, so no line is ever held whole in memory: at most `max_line` bytes wait here. One per
    stream: the local engine feeds stdout's and stderr's apart, as they arrive."""

    def __init__(self, *, max_line: int) -> None:
        self.max_line = max_line
        self.pending = bytearray()
        self.dropping = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The lines `chunk` completes, one at a time (consume them before the next feed)."""
        pending = self.pending
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            stop = len(chunk) if end < 0 else end
            if not self.dropping:
                room = self.max_line - len(pending)
                pending += chunk[start : min(stop, start + room)]
                if stop - start > room:
                    yield bytes(pending) + TRUNCATED
                    pending.clear()
                    self.dropping = True
            if end < 0:
                break
            if self.dropping:
                self.dropping = False
            else:
                yield bytes(pending) + b"\n"
                pending.clear()
            start = end + 1

    def finish(self) -> list[bytes]:
        """The unfinished last line, if any, with its newline added."""
        if not self.pending:
            return []
        line = bytes(self.pending) + b"\n"
        self.pending.clear()
        return [line]


def split_lines(chunks: Iterable[bytes], *, max_line: int) -> Iterator[bytes]:
    """Lines of the concatenated `chunks`, as LineSplitter cuts them."""
    splitter = LineSplitter(max_line=max_line)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()
