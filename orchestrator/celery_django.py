"""Celery's Django fix-up, except that a worker keeps a healthy database connection between tasks.

Celery's own fix-up closes every database connection before and after every task, so each task
opened a new one: a PostgreSQL backend started per task (twice on the path of every Flotilla
run, dispatch then launch), its wall time on the task's path and its CPU on the database.
This one does between tasks what Django does between requests, `close_old_connections()`: a
connection that saw an error, outlived CONN_MAX_AGE or (with CONN_HEALTH_CHECKS) fails its
check before the next query is dropped; a healthy one is kept. On SQLite (CONN_MAX_AGE 0)
connections still close after every task. Everything else is Celery's fix-up unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from celery.fixups.django import DjangoFixup, DjangoWorkerFixup


class ConnectionKeepingWorkerFixup(DjangoWorkerFixup):
    def close_database(self, **kwargs: Any) -> None:
        from django.db import close_old_connections

        close_old_connections()


class ConnectionKeepingFixup(DjangoFixup):
    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = ConnectionKeepingWorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def fixup(app: Any, env: str = "DJANGO_SETTINGS_MODULE") -> DjangoFixup | None:
    """Installed in place of `celery.fixups.django:fixup` (orchestrator/celery.py)."""
    if os.environ.get(env):
        return ConnectionKeepingFixup(app).install()
    return None
