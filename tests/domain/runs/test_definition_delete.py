"""Deleting a definition (domain/runs/definitions.py): its runs go, and so do their executions
with their events and logs; nothing of another definition's runs does."""

from __future__ import annotations

import pytest

from domain.common.errors import Conflict
from domain.executions.logs import execution_log_append
from domain.executions.models import Execution, ExecutionEvent, ExecutionState, LogChunk
from domain.runs.definitions import definition_create, definition_delete
from domain.runs.execute import RunRequest, run_execute
from domain.runs.models import Run
from domain.runs.stop import run_stop

pytestmark = pytest.mark.django_db


def _stopped_run_with_a_log(alias: str) -> Run:
    definition = definition_create(group_name="testing", alias=alias, image="i", command="true")
    run = run_execute(request=RunRequest(owner="alice"), definition_id=definition.pk)
    run_stop(run_id=run.pk)
    execution_log_append(execution_id=run.execution_id, first_line=0, lines=["+ true\n"])
    run.refresh_from_db()
    assert Execution.objects.get(pk=run.execution_id).state == ExecutionState.ENDED
    return run


def _traces(run: Run) -> tuple[int, int, int]:
    execution = run.execution_id
    return (
        Execution.objects.filter(pk=execution).count(),
        ExecutionEvent.objects.filter(execution_id=execution).count(),
        LogChunk.objects.filter(execution_id=execution).count(),
    )


def test_it_deletes_the_runs_executions_with_their_events_and_logs_and_no_others():
    gone, kept = _stopped_run_with_a_log("gone"), _stopped_run_with_a_log("kept")
    assert all(count > 0 for count in _traces(gone))
    kept_before = _traces(kept)

    definition_delete(definition_id=gone.definition_id)

    assert not Run.objects.filter(pk=gone.pk).exists()
    assert _traces(gone) == (0, 0, 0)
    assert _traces(kept) == kept_before


def test_a_definition_with_an_active_run_keeps_everything():
    definition = definition_create(group_name="testing", alias="busy", image="i", command="true")
    run = run_execute(request=RunRequest(owner="alice"), definition_id=definition.pk)
    with pytest.raises(Conflict):
        definition_delete(definition_id=definition.pk)
    assert Execution.objects.filter(pk=run.execution_id, state=ExecutionState.QUEUED).exists()
