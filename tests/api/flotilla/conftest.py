"""Fixtures of the Flotilla API tests: definitions and runs in each status (the clients by role
are tests/api/conftest.py's)."""

from __future__ import annotations

import pytest

from domain.runs.definitions import definition_create
from domain.runs.execute import RunRequest, run_execute
from domain.runs.models import Definition, Run


@pytest.fixture
def hello(db) -> Definition:
    """Alice's `hello` definition in group `testing`."""
    return definition_create(
        group_name="testing",
        alias="hello",
        image="library/ubuntu:latest",
        command="echo hi",
        memory=512,
        env=[("GREETING", "hi"), ("SHARED", "from-definition")],
        tags=["greeting"],
    )


def make_run(definition: Definition, owner: str = "alice", **fields) -> Run:
    return run_execute(request=RunRequest(owner=owner, **fields), definition_id=definition.pk)


def force_status(run: Run, status: str, **fields) -> Run:
    """Put a run (not its execution) in `status` directly, for read tests."""
    Run.objects.filter(pk=run.pk).update(status=status, **fields)
    run.refresh_from_db()
    return run
