"""Lazy decoding of a bulk submit body: `{"requests": [item, …]}` one item at a time.

`json.loads` of a 64 MB body builds every item's dict at once (~24 bytes of Python objects per
byte of JSON). Here each item is decoded from a window no larger than the per-item cap and
converted before the next is read, so the caller (the domain) can check the worker's access to
the first item's project before the rest is parsed, and a refused request costs one item.

Go's rules still hold for the envelope: keys match case-insensitively and unknown keys are
ignored (their values are capped like an item); `null` or a missing key is an empty list. One
deliberate difference: a second `requests` key is refused instead of replacing the first (Go's
last-wins would need the whole body parsed before the first item could be judged).
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from api.tracker.wire import PARSE_ERROR
from domain.tracker.errors import TrackerError

T = TypeVar("T")
KEY = "requests"
_SPACE = re.compile(r"[ \t\n\r]*")
# What follows an item of the array: a comma or the closing bracket, with the spaces around it.
_AFTER_ITEM = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# An item is first decoded from a window this small (a typical item is under 100 characters):
# copying a window of the per-item cap for each of 100,000 items cost more than decoding them.
_SHORT_WINDOW = 1024


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON; Go refuses them.
    raise ValueError(name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# The decoder's scanner: one value at an index, with the decoder's rules, without raw_decode's
# Python frame.
_SCAN = _DECODER.scan_once


class ItemTooLarge(TrackerError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"A task in a bulk submit may take at most {limit} bytes")


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a bulk submit is read and inserted. Its 100,000
    items are dicts, tuples and strings that make no reference cycle, yet each generation that
    fills with them is scanned again: a fifth to a third of the request's CPU went to those
    scans. Reference counting still frees everything; the collector resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def body_text(raw: bytes) -> str:
    """The body as text, decoded as json.loads would (UTF-8/16/32 by its first bytes)."""
    try:
        return raw.decode(json.detect_encoding(raw), "surrogatepass")
    except (UnicodeDecodeError, LookupError):
        raise TrackerError(400, PARSE_ERROR) from None


class _Reader:
    """A cursor over the body text; every value it decodes fits in `limit` characters."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.pos = 0
        self.limit = limit

    def skip_space(self) -> str:
        self.pos = _SPACE.match(self.text, self.pos).end()
        return self.text[self.pos : self.pos + 1]

    def null(self) -> bool:
        """Consume a `null` (Go decodes it as the zero value) if one comes next."""
        if self.skip_space() == "n" and self.text[self.pos : self.pos + 4] == "null":
            self.pos += 4
            return True
        return False

    def expect(self, char: str) -> None:
        if self.skip_space() != char:
            raise TrackerError(400, PARSE_ERROR)
        self.pos += 1

    def item(self) -> object:
        """The value at the cursor (no space before it), decoded from a short window when it
        ends inside one, else as `value` decodes it, with its errors."""
        window = self.text[self.pos : self.pos + _SHORT_WINDOW]
        try:
            value, end = _SCAN(window, 0)
        except (StopIteration, ValueError, RecursionError):
            return self.value()
        # A value that reaches the window's end may go on past it (a number cut short).
        if end == len(window) or end > self.limit:
            return self.value()
        self.pos += end
        return value

    def value(self) -> object:
        self.skip_space()
        # A window one past the cap: a value that does not end inside it is too large, and
        # nothing beyond the window is ever parsed for it.
        window = self.text[self.pos : self.pos + self.limit + 1]
        try:
            value, end = _DECODER.raw_decode(window)
        except (ValueError, RecursionError):
            if len(window) > self.limit:
                raise ItemTooLarge(self.limit) from None
            raise TrackerError(400, PARSE_ERROR) from None
        if end > self.limit:
            raise ItemTooLarge(self.limit)
        self.pos += end
        return value


def bulk_items(
    text: str, convert: Callable[[object], T], *, item_limit: int, max_items: int
) -> Iterator[T]:
    """Yield `convert(item)` for each item of the body's `requests` array, parsing lazily.

    Raises TrackerError(400, PARSE_ERROR) for bad JSON or more than `max_items` items, and
    ItemTooLarge (413) for an item (or an unknown key's value) over `item_limit` characters.
    """
    reader = _Reader(text, item_limit)
    if reader.null():
        _end_of_body(reader)
        return
    reader.expect("{")
    if reader.skip_space() == "}":
        reader.pos += 1
    else:
        yield from _members(reader, convert, max_items)
    _end_of_body(reader)


def _members(reader: _Reader, convert: Callable[[object], T], max_items: int) -> Iterator[T]:
    seen = False
    while True:
        key = reader.value()
        if type(key) is not str:
            raise TrackerError(400, PARSE_ERROR)
        reader.expect(":")
        if key.lower() == KEY:
            if seen:
                raise TrackerError(400, PARSE_ERROR)
            seen = True
            yield from _array(reader, convert, max_items)
        else:
            reader.value()
        if reader.skip_space() != ",":
            reader.expect("}")
            return
        reader.pos += 1


def _array(reader: _Reader, convert: Callable[[object], T], max_items: int) -> Iterator[T]:
    if reader.null():
        return
    reader.expect("[")
    if reader.skip_space() == "]":
        reader.pos += 1
        return
    reader.skip_space()
    after_item = _AFTER_ITEM.match
    for _ in range(max_items):
        yield convert(reader.item())
        after = after_item(reader.text, reader.pos)
        if after is None:
            raise TrackerError(400, PARSE_ERROR)
        reader.pos = after.end()
        if after[1] == "]":
            return
    raise TrackerError(400, PARSE_ERROR)


def _end_of_body(reader: _Reader) -> None:
    if reader.skip_space() != "":
        raise TrackerError(400, PARSE_ERROR)
