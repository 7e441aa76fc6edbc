"""GET /healthz: database, broker and a live worker ping; 200 only when all three are up."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from orchestrator.celery import app

logger = logging.getLogger(__name__)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down"; the message says which
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def check_broker() -> dict:
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return {"ok": True}
    except Exception as exc:  # kombu raises transport-specific errors; all mean "down"
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def check_workers(timeout: float) -> dict:
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # a broker failure mid-ping
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "workers": []}
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return {"ok": False, "error": "no Celery worker answered a ping", "workers": []}
    return {"ok": True, "workers": names}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker()}
    if checks["broker"]["ok"]:
        checks["workers"] = check_workers(settings.HEALTHZ_WORKER_TIMEOUT)
    else:
        checks["workers"] = {"ok": False, "error": "broker is down", "workers": []}
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)
