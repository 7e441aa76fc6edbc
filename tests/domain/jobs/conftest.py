"""Fixtures of the jobs domain tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.executions import clusters_known, unique_name


@pytest.fixture
def own_jobs_cluster(monkeypatch) -> Iterator[str]:
    """Jobs run on a cluster of this test's own. The session's real workers register hosts of
    the `default` cluster in the same database, and a scheduling test that counted their
    slots and memory beside its own hosts' failed (depending on which test file had started
    them in this process)."""
    name = unique_name("jobs")
    monkeypatch.setenv("SCALE_JOBS_CLUSTER", name)
    with clusters_known(name):
        yield name
