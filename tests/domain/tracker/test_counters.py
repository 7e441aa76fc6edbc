"""domain/tracker/counters.py: a closed count is exact even while the sweep folds tallies."""

from __future__ import annotations

import pytest
from django.db import connection

from domain.tracker.counters import counters_fold, project_closed_count, worker_closed_count
from domain.tracker.models import ClosedTally, Project, Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_once() -> tuple[int, int]:
    """One task of a project closed by a worker, its tally not folded yet."""
    project = Project.objects.create(name="p", assign_rate=1.0, submit_rate=1.0)
    worker = Worker.objects.create(created=0, alias="drone", secret_hash=b"x" * 32)
    ClosedTally.objects.create(project_id=project.id, worker_id=worker.id)
    return project.id, worker.id


class FoldAfterFirstStatement:
    """An execute wrapper: the sweep's fold commits right after the reader's first query."""

    def __init__(self) -> None:
        self.folded = False

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.folded:
            # Set first: the fold's own statement passes through this wrapper too.
            self.folded = True
            counters_fold()
        return result


@pytest.mark.parametrize("read", [project_closed_count, worker_closed_count])
def test_a_fold_between_reads_neither_loses_nor_doubles_a_close(closed_once, read):
    project_id, worker_id = closed_once
    key = {"project_id": project_id} if read is project_closed_count else {"worker_id": worker_id}
    fold = FoldAfterFirstStatement()
    with connection.execute_wrapper(fold):
        during = read(**key)
    assert fold.folded
    assert not ClosedTally.objects.exists()
    assert (during, read(**key)) == (1, 1)
