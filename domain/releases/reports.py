"""What a task service reports, parsed: its state and its progress (PATCH /tasks/{id} and poll
answers). Pure functions; the transition a report makes is in services.task_report."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from domain.releases.errors import field_error
from domain.releases.models import Task, TaskState

T = TaskState

_PROGRESS = re.compile(r"^\s*(-?\d+)\s*%?\s*$")


def progress_parse(value: Any) -> int | None:
    """`50`, `"50"` and `"50%"` are all 50 (#115). None means "not given"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise field_error("progress", "A valid integer is required.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _PROGRESS.match(value):
        number = int(_PROGRESS.match(value)[1])
    else:
        raise field_error("progress", "A valid integer is required.")
    if not 0 <= number <= 100:
        raise field_error("progress", "Ensure this value is between 0 and 100.")
    return number


def state_parse(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise field_error("state", "Not a valid string.")
    state = value.strip().lower()
    # Task services answer `pending` after initialize; that is our `initialized`.
    if state == "pending":
        state = T.INITIALIZED
    if state not in T.values:
        raise field_error("state", f'"{value}" is not a valid choice.')
    return state


# What a task service may report: its answer to initialize (`pending` is `initialized`) and the
# outcomes of its work. Every other move (running, publishing) belongs to the coordinator, which
# makes it for the release as a whole; a service making it would strand the release.
SERVICE_REPORTS = frozenset(
    {T.INITIALIZED, T.STAGED, T.PUBLISHED, T.FAILED, T.CANCELED, T.REJECTED}
)
# A task reported down takes its release down: failed and rejected fail it, canceled cancels it.
_DOWN_FAILS = {T.FAILED: True, T.REJECTED: True, T.CANCELED: False}


def report_is_stale(task: Task, asked_at: datetime | None) -> bool:
    """A poll answer is stale when the service pushed a report after the poll was sent."""
    return asked_at is not None and task.reported_at is not None and task.reported_at > asked_at
