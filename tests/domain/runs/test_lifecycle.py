"""A run follows its executions (domain/runs/hooks.py), is stopped, reports its status, and is
retried. The executions are moved by the executions domain's own functions, as a host's
supervisor would move them; no worker or engine runs here (those end-to-end tests are the
executions aggregate's)."""

from __future__ import annotations

import pytest

from domain.executions import dispatch, launches
from domain.executions.hosts import host_register
from domain.executions.models import Execution, ExecutionState, Outcome
from domain.runs.definitions import definition_create
from domain.runs.execute import RunRequest, run_execute
from domain.runs.models import Run, RunStatus
from domain.runs.status import run_transition
from domain.runs.stop import exit_reason_from, run_status_update, run_stop
from domain.runs.sweeps import runs_retry_due

pytestmark = pytest.mark.django_db
S = RunStatus


@pytest.fixture
def host(db):
    return host_register(
        name="harbor",
        queue="executions.host.harbor",
        clusters=["default"],
        slots=4,
        cpus=4,
        mem_mb=8192,
        disk_mb=10000,
    )


@pytest.fixture
def run(db, host) -> Run:
    definition = definition_create(
        group_name="testing", alias="hello", image="ubuntu", command="echo hi"
    )
    return run_execute(request=RunRequest(owner="alice"), definition_id=definition.pk)


def reload(run: Run) -> Run:
    return Run.objects.get(pk=run.pk)


def launch(run: Run) -> Execution:
    """QUEUED → PENDING (a host's slot) → RUNNING (the command started)."""
    dispatch.execution_dispatch(cluster="default")
    assert launches.execution_launch_begin(execution_id=run.execution_id) is not None
    assert launches.execution_mark_running(execution_id=run.execution_id, engine_ref={"pid": 7})
    return Execution.objects.get(pk=run.execution_id)


def end(run: Run, outcome: Outcome, exit_code: int | None = None, reason: str = "") -> Run:
    launches.execution_end(
        execution_id=run.execution_id, outcome=outcome, exit_code=exit_code, reason=reason
    )
    return reload(run)


def test_it_follows_its_execution_from_queued_to_running(run):
    assert run.status == S.QUEUED
    dispatch.execution_dispatch(cluster="default")
    assert reload(run).status == S.PENDING
    assert reload(run).instance == "harbor"
    launches.execution_launch_begin(execution_id=run.execution_id)
    launches.execution_mark_running(execution_id=run.execution_id, engine_ref={"pid": 7})
    running = reload(run)
    assert running.status == S.RUNNING
    assert running.started_at is not None


def test_it_stops_with_the_commands_exit_code(run):
    launch(run)
    done = end(run, Outcome.EXITED, 0)
    assert (done.status, done.exit_code, done.exit_reason) == (S.STOPPED, 0, "Exited successfully")
    assert done.finished_at is not None


def test_a_failing_command_stops_the_run_with_its_code(run):
    launch(run)
    done = end(run, Outcome.EXITED, 3)
    assert (done.status, done.exit_code) == (S.STOPPED, 3)
    assert done.exit_reason == "Exited with code 3"


def test_an_oom_kill_is_named_as_such(run):
    launch(run)
    done = end(run, Outcome.OOM, 137, "memory limit 512 MB")
    assert (done.status, done.exit_code) == (S.STOPPED, 137)
    assert done.exit_reason == "OOMKilled: memory limit 512 MB"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("OOMKilled", "OOMKilled: the command used more memory than its limit"),
        (
            "OOMKilled: the command exceeded its memory limit",
            "OOMKilled: the command exceeded its memory limit",
        ),
    ],
)
def test_an_oom_kill_named_by_the_engine_is_named_once(run, reason, expected):
    launch(run)
    assert end(run, Outcome.OOM, 137, reason).exit_reason == expected


def test_a_timeout_names_the_deadline(run):
    launch(run)
    done = end(run, Outcome.TIMED_OUT, None, "deadline")
    assert (done.status, done.exit_code) == (S.STOPPED, 1)
    assert done.exit_reason == "JobRun exceeded specified timeout of 172800 seconds"


def test_a_launch_failure_stops_the_run_with_the_engines_reason(run):
    dispatch.execution_dispatch(cluster="default")
    done = end(run, Outcome.LAUNCH_FAILED, None, "no such image")
    assert (done.status, done.exit_code, done.exit_reason) == (S.STOPPED, 1, "no such image")


def test_a_lost_execution_is_retried_with_a_new_attempt(run):
    first = launch(run)
    assert end(run, Outcome.LOST, None, "host gone").status == S.NEEDS_RETRY
    assert runs_retry_due() == [run.pk]
    retried = reload(run)
    assert retried.status == S.QUEUED
    assert retried.attempt_count == 2
    assert retried.execution_id != first.id
    assert Execution.objects.get(pk=retried.execution_id).attempt == 2
    # The old attempt can no longer move the run.
    assert runs_retry_due() == []


def test_a_run_lost_past_its_retries_stops_as_worker_lost(run, monkeypatch):
    monkeypatch.setenv("RUNS_MAX_RETRIES", "1")
    launch(run)
    end(run, Outcome.LOST)
    runs_retry_due()
    retried = reload(run)
    launch(retried)
    done = end(retried, Outcome.LOST, None, "worker lost: no heartbeat for 60 seconds")
    assert (done.status, done.exit_code) == (S.STOPPED, 1)
    assert done.exit_reason == "worker lost: no heartbeat for 60 seconds"
    assert done.attempt_count == 2


def test_stopping_a_queued_run_stops_it_at_once_without_launching(run):
    stopped = run_stop(run_id=run.pk, reason="Task terminated by - alice@example.com")
    assert (stopped.status, stopped.exit_code) == (S.STOPPED, 1)
    assert stopped.exit_reason == "Task terminated by - alice@example.com"
    execution = Execution.objects.get(pk=run.execution_id)
    assert (execution.state, execution.outcome) == (ExecutionState.ENDED, Outcome.STOPPED)
    assert execution.launch_started_at is None


def test_stopping_a_running_run_asks_its_host_and_stops_when_the_host_has(run):
    launch(run)
    assert run_stop(run_id=run.pk).status == S.RUNNING
    execution = Execution.objects.get(pk=run.execution_id)
    assert execution.stop_requested_at is not None
    # The supervisor kills the command and reports the end.
    done = end(run, Outcome.STOPPED, -15, "stopped")
    assert (done.status, done.exit_code, done.exit_reason) == (
        S.STOPPED,
        1,
        "Task terminated by user",
    )


def test_stopping_a_stopped_run_changes_nothing(run):
    launch(run)
    done = end(run, Outcome.EXITED, 0)
    assert run_stop(run_id=run.pk).exit_code == 0
    assert reload(run).exit_reason == done.exit_reason


def test_stopping_a_run_waiting_for_retry_stops_it(run):
    launch(run)
    end(run, Outcome.LOST)
    stopped = run_stop(run_id=run.pk)
    assert (stopped.status, stopped.exit_code) == (S.STOPPED, 1)
    assert runs_retry_due() == []


def test_status_never_moves_back(run):
    launch(run)
    end(run, Outcome.EXITED, 0)
    result = run_transition(run_id=run.pk, target=S.RUNNING)
    assert not result.applied
    assert reload(run).status == S.STOPPED
    assert run_transition(run_id=run.pk, target=S.NEEDS_RETRY).applied


def test_a_late_report_of_an_older_attempt_changes_nothing(run):
    first = launch(run)
    end(run, Outcome.LOST)
    runs_retry_due()
    # The lost host comes back and reports the first attempt's end.
    Execution.objects.filter(pk=first.pk).update(state=ExecutionState.RUNNING)
    launches.execution_end(execution_id=first.pk, outcome=Outcome.EXITED, exit_code=0, reason="")
    assert reload(run).status == S.QUEUED


def test_a_legacy_report_of_stopped_stops_the_execution_too(run):
    launch(run)
    updated = run_status_update(run_id=run.pk, status="STOPPED", exit_code=4)
    assert (updated.status, updated.exit_code) == (S.STOPPED, 4)
    assert updated.started_at is not None and updated.finished_at is not None
    assert Execution.objects.get(pk=run.execution_id).stop_requested_at is not None
    # The execution's end does not overwrite what the client reported.
    assert end(run, Outcome.STOPPED, -15).exit_code == 4


def test_a_legacy_report_derives_the_exit_reason_from_exceptions(run):
    updated = run_status_update(
        run_id=run.pk, status="STOPPED", run_exceptions=["ModuleNotFoundError: No module x"]
    )
    assert updated.exit_reason == "Python pip package installation error"
    assert updated.run_exceptions == ["ModuleNotFoundError: No module x"]


@pytest.mark.parametrize(
    ("exceptions", "reason"),
    [
        (["requests.exceptions.ConnectionError"], "Connection error to downstream uri"),
        (["fatal: Repository not found"], "Git clone error"),
        (["KeyError: 'a'"], "Data or argument error"),
        (["SyntaxError: invalid syntax"], "Code or syntax error"),
        (["something odd happened"], "Runtime exception encountered"),
    ],
)
def test_it_buckets_exceptions_like_the_original_minus_its_catch_all_bug(exceptions, reason):
    assert exit_reason_from(exceptions) == reason


def test_a_legacy_report_of_a_backward_status_is_ignored(run):
    launch(run)
    end(run, Outcome.EXITED, 0)
    assert run_status_update(run_id=run.pk, status="RUNNING", exit_code=9).status == S.STOPPED
    assert reload(run).exit_code == 0


def test_the_console_stops_runs_through_the_stop_service(run):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    dana = get_user_model().objects.create_superuser("dana", "dana@example.org", "s3cret-pass")
    client = Client()
    client.force_login(dana)
    reply = client.post(
        reverse("admin:runs_run_changelist"), {"action": "stop", "_selected_action": [run.pk]}
    )
    assert reply.status_code == 302
    stopped = reload(run)
    assert (stopped.status, stopped.exit_code) == (S.STOPPED, 1)
    assert stopped.exit_reason == "Task terminated by - dana (console)"
