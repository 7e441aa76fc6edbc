"""The PostgreSQL backend's health check: skipped for a connection used a moment ago."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def pings(monkeypatch) -> list[int]:
    seen: list[int] = []

    def is_usable(self) -> bool:
        seen.append(1)
        return True

    monkeypatch.setattr(type(connections["default"]), "is_usable", is_usable)
    assert connection.health_check_enabled
    return seen


def _next_request_queries() -> None:
    # What Django does between requests, then the next request's first query.
    connection.health_check_done = False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_it_does_not_ping_a_connection_used_a_moment_ago(pings):
    _next_request_queries()
    _next_request_queries()
    assert pings == []


def test_it_pings_a_connection_idle_for_longer(pings):
    _next_request_queries()
    connection.last_used = time.monotonic() - 5
    _next_request_queries()
    assert pings == [1]


def test_it_pings_a_connection_that_saw_an_error(pings):
    _next_request_queries()
    connection.errors_occurred = True
    try:
        _next_request_queries()
    finally:
        connection.errors_occurred = False
    assert pings == [1]


def test_the_settings_select_it_for_postgresql():
    assert connection.settings_dict["ENGINE"] == "orchestrator.postgres"
    assert connection.vendor == "postgresql"
