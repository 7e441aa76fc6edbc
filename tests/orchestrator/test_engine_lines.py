"""Splitting a command's output into lines with bounded memory (orchestrator/engines/lines.py)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from orchestrator.engines.lines import TRUNCATED, split_lines


def _split(data: bytes, *, size: int, max_line: int = 10) -> list[bytes]:
    """The lines of `data` read `size` bytes at a time."""
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return list(split_lines(chunks, max_line=max_line))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_it_splits_the_same_way_however_the_output_is_read(size):
    data = b"a\n\nbb\r\ncc\rdd\n\xc3\xa9t\xc3\xa9\nlast"
    assert _split(data, size=size) == [
        b"a\n",
        b"\n",
        b"bb\r\n",
        b"cc\rdd\n",
        "été\n".encode(),
        b"last\n",
    ]


@pytest.mark.parametrize("size", [1, 4, 11, 12, 64, 10_000])
def test_a_line_over_the_maximum_is_cut_however_it_is_read(size):
    data = b"0123456789\n" + b"x" * 11 + b"\n" + b"y" * 25 + b"\nz\n" + b"w" * 30
    assert _split(data, size=size) == [
        b"0123456789\n",  # exactly the maximum: kept whole
        b"x" * 10 + TRUNCATED,
        b"y" * 10 + TRUNCATED,
        b"z\n",
        b"w" * 10 + TRUNCATED,
    ]


def test_no_output_gives_no_lines():
    assert _split(b"", size=4) == []
    assert list(split_lines([b"", b""], max_line=10)) == []


def test_a_ten_megabyte_line_without_newline_is_never_held_whole():
    def output() -> Iterator[bytes]:
        block = b"z" * 65536
        for _ in range(160):  # 10 MiB, read as a pipe would hand it over
            yield block
        yield b"\nnext\n"

    tracemalloc.start()
    try:
        lines = list(split_lines(output(), max_line=65536))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [b"z" * 65536 + TRUNCATED, b"next\n"]
    # A few blocks' worth, not the 10 MiB line.
    assert peak < 1_000_000
