"""GET /healthz: database, broker and a live worker ping; 200 only when all three are up."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from orchestrator.celery import app

logger = logging.getLogger(__name__)


def _down(what: str, exc: Exception) -> dict:
    # /healthz is public: the exception text (hosts, users, paths) goes to the log only.
    logger.warning("healthz: %s is down: %s", what, exc)
    return {"ok": False, "error": type(exc).__name__}


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down"; the log says which
        return _down("database", exc)


def check_broker() -> dict:
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return {"ok": True}
    except Exception as exc:  # kombu raises transport-specific errors; all mean "down"
        return _down("broker", exc)


def check_workers(timeout: float) -> dict:
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # a broker failure mid-ping
        return {**_down("workers", exc), "workers": 0}
    answered = sum(len(reply) for reply in replies)
    if not answered:
        return {"ok": False, "error": "no Celery worker answered a ping", "workers": 0}
    return {"ok": True, "workers": answered}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker()}
    if checks["broker"]["ok"]:
        checks["workers"] = check_workers(settings.HEALTHZ_WORKER_TIMEOUT)
    else:
        checks["workers"] = {"ok": False, "error": "broker is down", "workers": 0}
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)
