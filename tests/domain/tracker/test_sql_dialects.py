"""domain/tracker/sql: both dialect modules define every name the queue calls, so neither
database meets a missing statement only when a request reaches it, and a new task's values line
up with the one task column list."""

from __future__ import annotations

import inspect

import pytest

from domain.tracker.models import NEW
from domain.tracker.queue import SubmitRequest
from domain.tracker.siphash import unique_string_hash
from domain.tracker.sql import Dialect, dialect_for
from domain.tracker.sql.common import NEW_TASK_NAMES


def _dialect_names() -> set[str]:
    members = {name for name, _ in inspect.getmembers(Dialect) if not name.startswith("_")}
    return members | set(Dialect.__annotations__)


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_it_gives_each_dialect_every_name_the_queue_calls(vendor):
    module = dialect_for(vendor=vendor)
    missing = {name for name in _dialect_names() if not hasattr(module, name)}
    assert missing == set()


def test_it_writes_each_new_task_value_under_its_column():
    # A new task's values are a plain tuple for speed: this ties them to the one column list.
    req = SubmitRequest(
        project=7,
        max_retries=3,
        recipe="crawl",
        priority=5,
        max_assign_time=600,
        hash_u64=0,
        unique_string="page",
        verification_count=0,
    )
    written = dict(zip(NEW_TASK_NAMES, req.new_task_values(req.hash64()), strict=True))
    assert written == {
        "project_id": 7,
        "priority": 5,
        "retries": 0,
        "max_retries": 3,
        "status": NEW,
        "recipe": "crawl",
        "max_assign_time": 600,
        "verification_count": 1,
        "hash64": unique_string_hash("page"),
    }
