"""The INFO lines of the frequent beat sweeps, left out of the log.

Beat sends some sweeps every second or every few seconds (`jobs.schedule`, the executions
sweep, the releases poll). Beat's "Sending due task" line and the worker's "received" and
"succeeded" lines for each of them were most of what `make run` printed, and buried everything
else. They are dropped unless LOG_LEVEL is DEBUG. A sweep's warnings and errors, and every line
of every other task, are kept; Flower still shows each run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import timedelta

# A beat entry that runs at least this often is a frequent sweep.
FREQUENT_BELOW_SECONDS = 60.0


class FrequentSweeps(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        return task_named(record) not in frequent_sweeps()


def task_named(record: logging.LogRecord) -> str | None:
    """The task a Celery log record is about: beat's "Sending due task %s (%s)" names it
    second; the worker's received/succeeded lines take a mapping with its name."""
    if record.name == "celery.beat" and isinstance(record.args, tuple) and len(record.args) == 2:
        return str(record.args[1])
    if isinstance(record.args, Mapping):
        name = record.args.get("name")
        return name if isinstance(name, str) else None
    return None


@functools.cache
def frequent_sweeps() -> frozenset[str]:
    """The tasks of the beat entries that run at least every FREQUENT_BELOW_SECONDS."""
    from orchestrator.celery import app

    return frozenset(
        entry["task"]
        for entry in app.conf.beat_schedule.values()
        if _seconds(entry["schedule"]) < FREQUENT_BELOW_SECONDS
    )


def _seconds(schedule: object) -> float:
    if isinstance(schedule, int | float):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    return float("inf")  # a crontab runs hourly at most often here
