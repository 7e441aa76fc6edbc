"""The retry sweep as beat runs it: `runs.retry_sweep` in celeryconfig, run by a real beat and
a real worker, moves a NEEDS_RETRY run to its next attempt. (Which runs a sweep picks is
tests/domain/runs/test_lifecycle.py's business.)"""

from __future__ import annotations

import pytest

from domain.runs.definitions import definition_create
from domain.runs.execute import RunRequest, run_execute
from domain.runs.models import Run, RunStatus
from orchestrator.tasks.runs import retry_sweep
from tests.support.processes import start_beat, stop_beat, wait_until


def needs_retry(alias: str) -> Run:
    definition = definition_create(group_name="sweeps", alias=alias, image="i", command="true")
    run = run_execute(request=RunRequest(owner="alice"), definition_id=definition.pk)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.NEEDS_RETRY)
    return run


@pytest.mark.django_db
def test_the_task_queues_a_run_waiting_for_retry_again():
    run = needs_retry("eager")
    assert retry_sweep.apply().get() == [run.pk]
    again = Run.objects.get(pk=run.pk)
    assert (again.status, again.attempt_count) == (RunStatus.QUEUED, 2)
    assert again.execution_id != run.execution_id


@pytest.mark.django_db(transaction=True)
def test_a_real_beat_runs_the_retry_sweep(
    subprocess_env, log_dir, tmp_path, redis_client, live_worker
):
    run = needs_retry("beat")
    env = {**subprocess_env, "REGATTA_BEAT_ONLY": "runs.", "RUNS_RETRY_SWEEP_INTERVAL": "0.5"}
    beat = start_beat(env, log_dir, tmp_path / "beat", name="runs-sweep")
    try:
        wait_until(
            lambda: Run.objects.get(pk=run.pk).attempt_count == 2,
            message="the run's second attempt",
        )
    finally:
        stop_beat(beat, redis_client)
    assert Run.objects.get(pk=run.pk).execution_id != run.execution_id
