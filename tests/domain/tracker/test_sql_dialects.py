"""domain/tracker/sql: both dialect modules define every name the queue calls, so neither
database meets a missing statement only when a request reaches it."""

from __future__ import annotations

import inspect

import pytest

from domain.tracker.sql import Dialect, dialect_for


def _dialect_names() -> set[str]:
    members = {name for name, _ in inspect.getmembers(Dialect) if not name.startswith("_")}
    return members | set(Dialect.__annotations__)


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_it_gives_each_dialect_every_name_the_queue_calls(vendor):
    module = dialect_for(vendor)
    missing = {name for name in _dialect_names() if not hasattr(module, name)}
    assert missing == set()
