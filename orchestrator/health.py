"""GET /healthz: database, broker and a worker ping; 200 only when all three are up.

A worker ping waits up to HEALTHZ_WORKER_TIMEOUT for replies, holding a sync web worker all that
time, so its result is shared in Redis for HEALTHZ_CACHE_SECONDS by every web process: a
monitor polling /healthz costs one ping per period, not one per call. `?deep=1` pings live.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from orchestrator.celery import app

logger = logging.getLogger(__name__)

WORKERS_KEY = "regatta:healthz:workers"


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


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _cached_workers() -> dict | None:
    try:
        raw = _redis().get(WORKERS_KEY)
    except redis.RedisError as exc:  # no shared result: ping live, as without a cache
        logger.warning("healthz: cannot read the shared worker ping: %s", exc)
        return None
    return None if raw is None else {**json.loads(raw), "cached": True}


def _share_workers(result: dict) -> None:
    try:
        seconds = settings.HEALTHZ_CACHE_SECONDS
        if not result["ok"]:
            seconds = min(seconds, settings.HEALTHZ_DOWN_CACHE_SECONDS)
        ttl_ms = max(1, int(seconds * 1000))
        _redis().set(WORKERS_KEY, json.dumps(result), px=ttl_ms)
    except redis.RedisError as exc:
        logger.warning("healthz: cannot share the worker ping: %s", exc)


def workers_status(*, deep: bool) -> dict:
    """The last shared ping while it is fresh, else (or when `deep`) a live one, then shared.
    A "down" result is shared too (for HEALTHZ_DOWN_CACHE_SECONDS at most): during an outage
    each live ping waits the whole timeout."""
    caching = settings.HEALTHZ_CACHE_SECONDS > 0
    if caching and not deep:
        cached = _cached_workers()
        if cached is not None:
            return cached
    result = check_workers(settings.HEALTHZ_WORKER_TIMEOUT)
    if caching:
        _share_workers(result)
    return {**result, "cached": False}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker()}
    if checks["broker"]["ok"]:
        checks["workers"] = workers_status(deep=request.GET.get("deep") in ("1", "true"))
    else:
        checks["workers"] = {"ok": False, "error": "broker is down", "workers": 0}
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)
