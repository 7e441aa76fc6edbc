"""Worker log entries (/log/*) and their query (/logs)."""

from __future__ import annotations

import json
import logging

from domain.tracker import conf
from domain.tracker.models import LogEntry

LEVELS = {"trace": 7, "info": 5, "warn": 4, "error": 3}
_PY_LEVELS = {7: logging.DEBUG, 5: logging.INFO, 4: logging.WARNING, 3: logging.ERROR}
logger = logging.getLogger("tracker.worker_log")


def log_write(*, level: int, worker_id: int, scope: str, message: str, timestamp: int) -> None:
    """Always log to the process log; store in the database if the level is configured."""
    data = json.dumps({"scope": scope, "worker": worker_id})
    logger.log(_PY_LEVELS.get(level, logging.INFO), "%s %s", message, data)
    if level in conf.DB_LOG_LEVELS:
        LogEntry.objects.create(
            level=level, message=message, message_data=data, timestamp=timestamp
        )


def logs_since(*, level: int, since: int) -> list[dict] | None:
    rows = LogEntry.objects.filter(level=level, timestamp__gt=since).order_by("timestamp", "id")
    out = [
        {"message": e.message, "timestamp": e.timestamp, "data": e.message_data, "level": e.level}
        for e in rows[:10000]
    ]
    # The original answers null, not [], when nothing matched.
    return out or None
