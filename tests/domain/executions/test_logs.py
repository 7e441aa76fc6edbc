"""An execution's output in the database: appended in chunks, read back exactly by page or as a
stream, whatever the lines hold."""

from __future__ import annotations

import pytest

from domain.executions.logs import execution_log_append
from domain.executions.models import Execution, LogChunk
from domain.executions.selectors import (
    execution_log_chunks,
    execution_log_iter,
    execution_log_page,
    stderr_flags,
)
from orchestrator.engines.lines import TRUNCATED, LineSplitter, split_lines

pytestmark = pytest.mark.django_db

AWKWARD = [
    "plain\n",
    "\n",
    "progress 10%\rprogress 100%\n",
    "windows line\r\n",
    "\n",
    "unicode: héllo wörld ✓ 你好 🚣\n",
    "tab\tand trailing space \n",
    "\r\n",
]


def _store(execution_id: str, lines: list[str], sizes: list[int]) -> None:
    """Append `lines` in chunks of the given sizes (cycled), as a supervisor would."""
    at, i = 0, 0
    while at < len(lines):
        size = sizes[i % len(sizes)]
        assert execution_log_append(
            execution_id=execution_id, first_line=at, lines=lines[at : at + size]
        ) == at + min(size, len(lines) - at)
        at += size
        i += 1


def _pages(execution_id: str, max_lines: int) -> tuple[str, list[int]]:
    text, tokens, after = "", [], 0
    while True:
        page, after = execution_log_page(
            execution_id=execution_id, after_line=after, max_lines=max_lines
        )
        tokens.append(after)
        if not page:
            return text, tokens
        text += page


@pytest.fixture
def execution(make_execution) -> Execution:
    return make_execution()


def test_awkward_lines_come_back_exactly(execution):
    _store(execution.id, AWKWARD, sizes=[3])

    assert "".join(execution_log_iter(execution_id=execution.id)) == "".join(AWKWARD)
    assert _pages(execution.id, max_lines=2)[0] == "".join(AWKWARD)
    assert Execution.objects.get(pk=execution.id).log_lines == len(AWKWARD)


@pytest.mark.parametrize("max_lines", [3, 256, 5000])
def test_pages_reassemble_many_chunks_exactly(execution, max_lines):
    lines = [f"line {i}\n" if i % 13 else "\n" for i in range(700)]
    _store(execution.id, lines, sizes=[1, 299, 37, 256, 300])

    text, tokens = _pages(execution.id, max_lines=max_lines)

    assert text == "".join(lines)
    # Each page moves the token on by what it returned; at the end it stops changing.
    assert tokens[-1] == tokens[-2] == 700
    assert all(b - a <= max_lines for a, b in zip([0, *tokens], tokens, strict=False))


def test_a_page_may_start_inside_a_chunk_and_past_the_end(execution):
    _store(execution.id, [f"{i}\n" for i in range(10)], sizes=[10])

    assert execution_log_page(execution_id=execution.id, after_line=4, max_lines=3) == (
        "4\n5\n6\n",
        7,
    )
    assert execution_log_page(execution_id=execution.id, after_line=10) == ("", 10)
    assert execution_log_page(execution_id=execution.id, after_line=500) == ("", 500)
    assert execution_log_page(execution_id=execution.id, after_line=-3, max_lines=1) == ("0\n", 1)


def test_an_empty_log_reads_empty(execution):
    assert execution_log_page(execution_id=execution.id, after_line=0) == ("", 0)
    assert list(execution_log_iter(execution_id=execution.id)) == []
    assert execution_log_append(execution_id=execution.id, first_line=0, lines=[]) == 0


def test_the_stream_reads_a_few_chunks_at_a_time_in_order(execution):
    lines = [f"{i}\n" for i in range(100)]
    _store(execution.id, lines, sizes=[3])
    assert LogChunk.objects.filter(execution=execution).count() == 34

    assert "".join(execution_log_iter(execution_id=execution.id)) == "".join(lines)


def test_a_line_over_the_maximum_is_cut_with_a_marker(execution):
    output = [b"short\n", b"x" * 300, b"y" * 300, b"\n", b"after\n"]
    lines = [line.decode() for line in split_lines(output, max_line=100)]
    _store(execution.id, lines, sizes=[2])

    assert "".join(execution_log_iter(execution_id=execution.id)) == (
        "short\n" + "x" * 100 + TRUNCATED.decode() + "after\n"
    )


def test_a_nul_or_a_lone_surrogate_cannot_break_the_write(execution):
    # PostgreSQL text refuses NUL; a remote engine may hand over any str at all.
    execution_log_append(
        execution_id=execution.id, first_line=0, lines=["a\x00b\n", "bad \udcff end\n"]
    )

    text = "".join(execution_log_iter(execution_id=execution.id))
    assert text == "a\ufffdb\nbad \ufffd end\n"


def test_lines_are_counted_by_their_newlines(execution):
    # A caller handing over a "line" holding a newline, or one without its newline, still gets
    # line numbers that match what the pages return.
    after = execution_log_append(
        execution_id=execution.id, first_line=0, lines=["one\ntwo\n", "three"]
    )

    assert after == 3
    assert execution_log_page(execution_id=execution.id, after_line=1) == ("two\nthree\n", 3)
    assert Execution.objects.get(pk=execution.id).log_lines == 3


def test_a_retried_write_is_stored_once(execution):
    first = execution_log_append(execution_id=execution.id, first_line=0, lines=["a\n", "b\n"])
    again = execution_log_append(execution_id=execution.id, first_line=0, lines=["a\n", "b\n"])

    assert first == again == 2
    assert "".join(execution_log_iter(execution_id=execution.id)) == "a\nb\n"
    assert Execution.objects.get(pk=execution.id).log_lines == 2


def test_it_stores_which_lines_came_from_stderr_as_ranges(execution):
    lines = [f"{n}\n" for n in range(7)]
    execution_log_append(execution_id=execution.id, first_line=0, lines=lines[:4], stderr=[0, 1, 3])
    execution_log_append(execution_id=execution.id, first_line=4, lines=lines[4:])
    execution_log_append(execution_id=execution.id, first_line=4, lines=lines[4:], stderr=[0])

    chunks = list(execution_log_chunks(execution_id=execution.id))
    assert chunks == [("0\n1\n2\n3\n", [[0, 2], [3, 4]]), ("4\n5\n6\n", [])]
    assert stderr_flags(chunks[0][1], 4) == [True, True, False, True]
    assert stderr_flags([], 3) == [False, False, False]
    # Flotilla's reads are the combined output, whatever the streams.
    assert "".join(execution_log_iter(execution_id=execution.id)) == "".join(lines)


def test_a_splitter_fed_piecemeal_cuts_the_lines_split_lines_cuts():
    data = b"short\n" + b"x" * 25 + b"\nlast"
    whole = list(split_lines([data], max_line=10))
    splitter = LineSplitter(max_line=10)
    fed = [line for byte in range(len(data)) for line in splitter.feed(data[byte : byte + 1])]
    assert fed + splitter.finish() == whole == [b"short\n", b"x" * 10 + TRUNCATED, b"last\n"]
