"""domain/jobs/scheduling.py: which queued jobs get executions (A.11), and domain/jobs/hooks.py:
how a job follows its execution to its end (A.9, A.10). Engines are played by the executions
aggregate's own engine-side services (launch, running, end), in process."""

from __future__ import annotations

import pytest

from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import execution_end, execution_launch_begin, execution_mark_running
from domain.executions.models import Execution, Outcome
from domain.jobs.conf import jobs_cluster
from domain.jobs.job_types import job_type_edit
from domain.jobs.models import Job, JobExecution, JobStatus
from domain.jobs.queueing import job_queue_new, jobs_cancel
from domain.jobs.scheduling import jobs_schedule
from tests.domain.jobs.jobs_support import host, job_type

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_jobs_cluster")]
S = JobStatus


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")


def _queue(jt, n=1, **kw) -> list[Job]:
    return [job_queue_new(job_type_id=jt.pk, data={}, **kw) for _ in range(n)]


def _run(job: Job) -> Execution:
    """The engine side: a slot, a launch, the command running."""
    job.refresh_from_db()
    execution_dispatch(cluster=jobs_cluster())
    execution_launch_begin(execution_id=job.execution_id)
    execution_mark_running(execution_id=job.execution_id, engine_ref={"pid": 1})
    return Execution.objects.get(pk=job.execution_id)


def _end(job: Job, outcome=Outcome.EXITED, code: int | None = 0) -> Job:
    job.refresh_from_db()
    execution_end(execution_id=job.execution_id, outcome=outcome, exit_code=code, reason="")
    job.refresh_from_db()
    return job


def test_it_schedules_by_priority_then_queue_order_within_the_free_slots():
    host(slots=2)
    jt = job_type()
    late, early = _queue(jt, 2)
    urgent = _queue(jt, configuration={"priority": 1})[0]
    assert jobs_schedule() == 2
    scheduled = set(Job.objects.exclude(execution_id="").values_list("pk", flat=True))
    assert scheduled == {urgent.pk, late.pk}
    # The slots are all promised: nothing more until one frees.
    assert jobs_schedule() == 0


def test_it_skips_a_paused_type_without_canceling_its_jobs():
    host(slots=4)
    paused, running = job_type(), job_type()
    held = _queue(paused, 2)
    _queue(running, 1)
    job_type_edit(name=paused.name, version=paused.version, changes={"is_paused": True})
    assert jobs_schedule() == 1
    assert all(Job.objects.get(pk=j.pk).status == S.QUEUED for j in held)
    assert not Job.objects.filter(job_type=paused).exclude(execution_id="").exists()


def test_it_never_exceeds_max_scheduled_counting_running_executions():
    host(slots=10)
    limited = job_type(max_scheduled=2)
    jobs = _queue(limited, 5)
    assert jobs_schedule() == 2
    _run(jobs[0])
    assert jobs_schedule() == 0
    _end(jobs[0])
    assert jobs_schedule() == 1
    assert JobExecution.objects.filter(job_type=limited, ended__isnull=True).count() == 2


def test_it_sets_unmet_resources_and_schedules_the_jobs_behind_without_starving():
    # Issue #1801: 600 jobs at the head of the queue that no host can run must not block.
    huge = job_type(scalars=[{"name": "mem", "value": 8192}, {"name": "chocolate", "value": 1}])
    small = job_type()
    _queue(huge, 600, configuration={"priority": 1})
    behind = _queue(small, 3, configuration={"priority": 500})
    # The host beats after the queueing, which on a loaded machine outlasts a host's timeout.
    host(slots=4, mem_mb=4096)
    assert jobs_schedule() == 3
    assert all(Job.objects.get(pk=j.pk).execution_id for j in behind)
    huge.refresh_from_db()
    assert huge.unmet_resources == "chocolate,mem"
    # A bigger host that offers the memory (but no chocolate) clears what it satisfies.
    job_type_edit(name=huge.name, version=huge.version, changes={"is_paused": False})
    host(name="h2", slots=4, mem_mb=16384)
    jobs_schedule()
    huge.refresh_from_db()
    assert huge.unmet_resources == "chocolate"


def test_it_clears_unmet_resources_when_the_jobs_fit_again():
    host(slots=1, mem_mb=1024)
    jt = job_type(scalars=[{"name": "mem", "value": 2048}])
    _queue(jt)
    jobs_schedule()
    jt.refresh_from_db()
    assert jt.unmet_resources == "mem"
    host(name="big", slots=1, mem_mb=4096)
    assert jobs_schedule() == 1
    jt.refresh_from_db()
    assert jt.unmet_resources is None


def test_it_gives_an_execution_with_the_seed_environment_and_the_manifest_timeout():
    host()
    jt = job_type(
        command="echo ${COUNT} ${NOTE}",
        timeout=42,
        inputs={"json": [{"name": "COUNT", "type": "integer"}, {"name": "NOTE", "type": "object"}]},
        settings=[{"name": "MODE", "secret": False}, {"name": "TOKEN", "secret": True}],
        configuration={"settings": {"MODE": "fast", "TOKEN": "hunter2"}},
    )
    job = job_queue_new(job_type_id=jt.pk, data={"json": {"COUNT": 3, "NOTE": {"a": 1}}})
    jobs_schedule()
    job.refresh_from_db()
    execution = Execution.objects.get(pk=job.execution_id)
    env = dict(execution.env)
    assert env["COUNT"] == "3" and env["NOTE"] == '{"a": 1}' and env["MODE"] == "fast"
    assert env["ALLOCATED_CPUS"] == "0.25" and env["ALLOCATED_MEM"] == "128"
    # A secret is added on the host at launch, never stored with the execution.
    assert "TOKEN" not in env and "hunter2" not in str(execution.env)
    assert execution.command == "echo ${COUNT} ${NOTE}"
    assert execution.deadline_seconds == 42
    assert (execution.owner_type, execution.owner_id, execution.attempt) == (
        "jobs.job",
        str(job.pk),
        1,
    )


def test_it_runs_and_completes_a_job_through_its_execution():
    host()
    jt = job_type()
    job = _queue(jt)[0]
    jobs_schedule()
    _run(job)
    job.refresh_from_db()
    assert job.status == S.RUNNING and job.node == "h1" and job.started
    job = _end(job)
    assert (
        job.status == S.COMPLETED and job.error is None and job.output == {"files": {}, "json": {}}
    )
    assert JobExecution.objects.get(job=job).status == S.COMPLETED


def test_it_fails_with_the_manifests_error_for_a_mapped_exit_code_without_retrying():
    host()
    errors = [{"code": 3, "name": "bad-pixels", "category": "data"}, {"code": 4, "name": "crash"}]
    jt = job_type(errors=errors)
    job = _queue(jt)[0]
    jobs_schedule()
    _run(job)
    job = _end(job, code=3)
    assert job.status == S.FAILED and job.num_exes == 1
    assert (job.error.name, job.error.category) == ("bad-pixels", "DATA")
    other = _queue(jt)[0]
    jobs_schedule()
    _run(other)
    other = _end(other, code=4)
    assert (other.error.name, other.error.category) == ("crash", "ALGORITHM")
    unmapped = _queue(jt)[0]
    jobs_schedule()
    _run(unmapped)
    assert _end(unmapped, code=99).error.name == "algorithm-unknown"


def test_it_retries_a_lost_node_up_to_max_tries_then_fails():
    host()
    jt = job_type()
    job = _queue(jt)[0]
    for attempt in (1, 2, 3):
        assert jobs_schedule() == 1
        job.refresh_from_db()
        assert job.num_exes == attempt
        _run(job)
        job = _end(job, outcome=Outcome.LOST, code=None)
    assert job.status == S.FAILED and job.error.name == "node-lost" and job.num_exes == 3
    assert list(job.executions.order_by("exe_num").values_list("exe_num", "error__name")) == [
        (1, "node-lost"),
        (2, "node-lost"),
        (3, "node-lost"),
    ]


def test_it_fails_a_timeout_with_the_timeout_error_and_does_not_retry():
    host()
    job = _queue(job_type())[0]
    jobs_schedule()
    _run(job)
    job = _end(job, outcome=Outcome.TIMED_OUT, code=None)
    assert job.status == S.FAILED and job.error.name == "timeout" and job.num_exes == 1


def test_it_ignores_a_stale_report_about_an_older_execution():
    host()
    job = _queue(job_type())[0]
    jobs_schedule()
    _run(job)
    job.refresh_from_db()
    first = job.execution_id
    _end(job, outcome=Outcome.LOST, code=None)
    jobs_schedule()
    job.refresh_from_db()
    assert job.num_exes == 2 and job.execution_id != first
    # A late report about execution 1 (a redelivered end) changes nothing.
    assert not execution_end(execution_id=first, outcome=Outcome.EXITED, exit_code=0, reason="")
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.num_exes == 2


def test_it_cancels_a_running_job_and_asks_its_execution_to_stop():
    host()
    job = _queue(job_type())[0]
    jobs_schedule()
    _run(job)
    jobs_cancel(jobs=Job.objects.filter(pk=job.pk))
    job.refresh_from_db()
    execution = Execution.objects.get(pk=job.execution_id)
    assert job.status == S.CANCELED and execution.stop_requested_at is not None
    _end(job, outcome=Outcome.STOPPED, code=None)
    job.refresh_from_db()
    assert job.status == S.CANCELED and job.error is None
    assert JobExecution.objects.get(job=job).status == S.CANCELED


def test_it_ends_the_execution_of_a_canceled_scheduled_job_at_once():
    host()
    job = _queue(job_type())[0]
    jobs_schedule()
    jobs_cancel(jobs=Job.objects.filter(pk=job.pk))
    job.refresh_from_db()
    assert Execution.objects.get(pk=job.execution_id).state == "ENDED"
    assert JobExecution.objects.get(job=job).ended is not None
