"""The suite's teardown retries a truncation that PostgreSQL picked as a deadlock's victim, and
nothing else (tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.db import OperationalError

from tests.conftest import _flush_retrying_deadlocks


def _failing(times: int, cause: Exception):
    calls = []

    def flush(_self) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise CommandError("Database test_regatta couldn't be flushed.") from cause

    return flush, calls


def test_a_deadlocked_flush_is_tried_again(monkeypatch):
    monkeypatch.setattr("tests.conftest.time.sleep", lambda _s: None)
    flush, calls = _failing(2, OperationalError("deadlock detected\nDETAIL: ..."))
    _flush_retrying_deadlocks(flush)(object())
    assert len(calls) == 3


def test_any_other_flush_failure_is_raised_at_once(monkeypatch):
    monkeypatch.setattr("tests.conftest.time.sleep", lambda _s: None)
    flush, calls = _failing(1, OperationalError("relation does not exist"))
    with pytest.raises(CommandError):
        _flush_retrying_deadlocks(flush)(object())
    assert len(calls) == 1


def test_a_deadlock_that_persists_is_raised_in_the_end(monkeypatch):
    monkeypatch.setattr("tests.conftest.time.sleep", lambda _s: None)
    flush, calls = _failing(99, OperationalError("deadlock detected"))
    with pytest.raises(CommandError):
        _flush_retrying_deadlocks(flush)(object())
    assert len(calls) == 5
