"""Loaded with `-p` before Django settings: point the suite at real PostgreSQL and Redis.

DATABASE_URL / REDIS_URL win when set. Redis defaults to db 13 so a suite run never touches the
queues of a service running on db 0 of the same server (Celery prefixes broadcasts by db too).

Under pytest-xdist each worker process gets its own test database (pytest-django suffixes it) and
its own three Redis dbs, counted down from the suite's: gw0 uses 13, 14 and 15 (the suite's, the
isolated stacks', the health checks'), gw1 10-12, gw2 7-9, gw3 4-6. Two workers on one db would
consume each other's Celery messages.
"""

from __future__ import annotations

import os

from tests.support.redis_dbs import redis_url_of_worker

os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/regatta")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
if os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    for _name in ("REDIS_URL", "RELEASES_ISOLATED_REDIS_URL"):
        if os.environ.get(_name):
            os.environ[_name] = redis_url_of_worker(
                os.environ[_name], os.environ["PYTEST_XDIST_WORKER"]
            )
os.environ.setdefault("REGATTA_TEST_APPS", "1")
os.environ.setdefault("CELERY_EXTRA_IMPORTS", "tests.support.testapp.tasks")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")
# Outbound calls to stand-in services time out fast and retry quickly in tests (releases family;
# production defaults are 15 s and 1 s, see docs/releases.md).
os.environ.setdefault("OUTBOUND_TIMEOUT", "1")
os.environ.setdefault("RELEASES_RETRY_BACKOFF", "0.1")
os.environ.setdefault("RELEASES_TASK_POLL_INTERVAL", "0.5")
# Stand-in services listen on loopback, which the outbound address policy refuses by default.
os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# The suite creates hundreds of workers from 127.0.0.1: no per-address creation limit, except
# where a test sets one (tests/api/tracker/test_worker_create.py).
os.environ.setdefault("TRACKER_WORKER_CREATE_RATE", "0")
