"""Shared fixtures: real PostgreSQL (pytest-django's test database), real Redis, real workers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
import pytest
import redis
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test import TransactionTestCase

from tests.support.executions import dispatch_messages_dropped
from tests.support.processes import (
    child_env,
    database_url_for,
    logs_written_since,
    start_worker,
)

STARTED = pytest.StashKey[float]()


def pytest_sessionstart(session) -> None:
    # A missing service is a failure, never a skip: fail the whole run with the reason.
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {os.environ['REDIS_URL']} is unreachable: {exc}", returncode=3)
    server = urlparse(os.environ["DATABASE_URL"])._replace(path="/postgres")
    try:
        psycopg2.connect(urlunparse(server), connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        pytest.exit(f"PostgreSQL at {server.hostname}:{server.port} is unreachable: {exc}", 3)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files marked `long(minutes)` come first, the longest first. The parallel processes
    take files in this order (`--no-loadscope-reorder` in the Makefile), so the run does not end
    with one process alone in a fuzzer while the others are idle. The minutes only order."""

    def longest_first(item: pytest.Item) -> float:
        mark = item.get_closest_marker("long")
        return -float(mark.args[0]) if mark else 0.0

    items.sort(key=longest_first)


def _flush_retrying_deadlocks(flush):
    """A transactional test's teardown truncates every table while package-scoped workers still
    heartbeat and schedule: PostgreSQL may pick the truncation as a deadlock's victim. Its
    transaction rolled back whole, so trying again is safe; any other failure is raised."""

    def teardown(self) -> None:
        for attempt in range(1, 6):
            try:
                return flush(self)
            except CommandError as exc:
                cause = exc.__cause__
                if attempt == 5 or not (
                    isinstance(cause, OperationalError) and "deadlock detected" in str(cause)
                ):
                    raise
                time.sleep(0.2 * attempt)

    return teardown


TransactionTestCase._fixture_teardown = _flush_retrying_deadlocks(
    TransactionTestCase._fixture_teardown
)


@pytest.fixture
def no_dispatch_messages() -> Iterator[None]:
    """Committed executions send no dispatch message (see `dispatch_messages_dropped`)."""
    with dispatch_messages_dropped():
        yield


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("proc-logs")


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    with django_db_blocker.unblock():
        return database_url_for(connection.settings_dict)


@pytest.fixture(scope="session")
def subprocess_env(test_database_url) -> dict[str, str]:
    """Environment for child processes: the test database and the test Redis db."""
    return child_env(test_database_url)


@pytest.fixture(scope="session")
def live_worker(subprocess_env, log_dir, redis_client):
    """Two real Celery worker processes consuming every queue, shared by the session."""
    proc = start_worker(subprocess_env, log_dir, concurrency=2, name="session")
    yield proc
    proc.stop()


@pytest.fixture
def admin_token(db) -> str:
    from domain.common.tokens import token_create

    return token_create(role="admin", name="Alice the admin").plaintext


@pytest.fixture
def dev_token(db) -> str:
    from domain.common.tokens import token_create

    return token_create(role="dev", name="Bob the developer").plaintext


@pytest.fixture
def user_token(db) -> str:
    from domain.common.tokens import token_create

    return token_create(role="user", name="Charlie", study_groups=["SD_00000001"]).plaintext


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def internal():
    """A task service that plays a host inside our network (outbound-policy tests)."""
    from tests.support.task_service import TaskServiceStandIn

    svc = TaskServiceStandIn(mode="manual", name="internal")
    yield svc
    svc.stop()


@pytest.fixture
def hostile():
    """Makes hostile HTTP servers on 127.0.0.1 (tests/support/hostile_http.py)."""
    from tests.support.hostile_http import HostileServer

    servers: list[HostileServer] = []

    def make(mode: str, **kw) -> HostileServer:
        servers.append(HostileServer(mode, **kw))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    item.stash[STARTED] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # A skipped test hides a missing service or a forgotten case: count it as a failure.
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        # CI keeps only this report: show what the suite's processes logged meanwhile.
        for name, tail in logs_written_since(item.stash.get(STARTED, time.time())):
            report.sections.append((f"log of {name} (tail)", tail))
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped tests are failures in this suite: {report.longrepr}"
