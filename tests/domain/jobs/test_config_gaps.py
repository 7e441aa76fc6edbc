"""domain/jobs/config_gaps.py through the scheduler (domain/jobs/scheduling.py): a job whose
configuration lacks a mount or a setting its manifest declares ends FAILED with the builtin
SYSTEM error `missing-mount` / `missing-setting` (A.10), is not retried and never gets an
execution; one whose configuration has them all is scheduled."""

from __future__ import annotations

import pytest

from domain.executions.models import Execution, Host
from domain.jobs import config_gaps
from domain.jobs.job_types import job_type_edit
from domain.jobs.models import Job, JobExecution, JobStatus
from domain.jobs.queueing import job_queue_new, jobs_requeue
from domain.jobs.scheduling import jobs_schedule
from domain.jobs.steps import ScheduleJobs
from tests.domain.jobs.jobs_support import host, job_type

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_jobs_cluster")]
S = JobStatus
REFS = [{"name": "REFS", "path": "/refs"}]
TOKENS = [{"name": "API_KEY", "secret": False}, {"name": "PASSWORD", "secret": True}]


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")


@pytest.fixture
def refs_root(monkeypatch, tmp_path):
    """Alice's reference data, in a directory host mounts may bind."""
    root = tmp_path / "mountable"
    (root / "refs").mkdir(parents=True)
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", str(root))
    return root / "refs"


def _failed_unrun(job: Job, error: str) -> Job:
    """`job` ended FAILED with builtin `error` without an execution, and says so in its event."""
    job.refresh_from_db()
    assert job.status == S.FAILED and job.ended is not None
    assert (job.error.name, job.error.category) == (error, "SYSTEM")
    assert job.error.is_builtin and not job.error.should_be_retried
    # The queueing counted the attempt (Scale's num_exes); no execution was made for it.
    assert job.num_exes == 1 and job.execution_id == ""
    assert not JobExecution.objects.filter(job=job).exists()
    assert not Execution.objects.filter(owner_type="jobs.job", owner_id=str(job.pk)).exists()
    event = job.events.order_by("id").last()
    assert (event.type, event.source, event.target, event.exe_num) == (
        "EXECUTION",
        "QUEUED",
        "FAILED",
        1,
    )
    return job


def test_it_fails_a_job_whose_declared_mount_is_not_configured_and_does_not_retry_it():
    host()
    alices = job_type(mounts=REFS)
    job = job_queue_new(job_type_id=alices.pk, data={})
    assert jobs_schedule() == 0
    failed = _failed_unrun(job, "missing-mount")
    assert "'REFS'" in failed.events.last().description
    # Not retried: the next passes leave it FAILED.
    assert jobs_schedule() == 0
    failed.refresh_from_db()
    assert failed.status == S.FAILED and failed.num_exes == 1


def test_it_schedules_the_same_job_once_the_mount_is_configured(refs_root):
    host()
    mount = {"REFS": {"type": "host", "host_path": str(refs_root)}}
    alices = job_type(mounts=REFS, configuration={"mounts": mount})
    job = job_queue_new(job_type_id=alices.pk, data={})
    assert jobs_schedule() == 1
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.error is None
    execution = Execution.objects.get(pk=job.execution_id)
    assert [(m["name"], m["path"]) for m in execution.mounts] == [("REFS", "/refs")]


def test_it_schedules_a_job_that_brings_the_mount_its_type_lacks(refs_root):
    host()
    bobs = job_type(mounts=REFS)
    mount = {"REFS": {"type": "host", "host_path": str(refs_root)}}
    job = job_queue_new(job_type_id=bobs.pk, data={}, configuration={"mounts": mount})
    assert jobs_schedule() == 1
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.execution_id


def test_it_fails_a_job_whose_declared_setting_has_no_value_naming_it():
    host()
    alices = job_type(settings=[{"name": "MODE", "secret": False}, *TOKENS])
    alices_config = {"settings": {"MODE": "fast"}}
    job = job_queue_new(job_type_id=alices.pk, data={}, configuration=alices_config)
    assert jobs_schedule() == 0
    failed = _failed_unrun(job, "missing-setting")
    assert "'API_KEY', 'PASSWORD'" in failed.events.last().description


def test_it_checks_the_mounts_before_the_settings():
    host()
    job = job_queue_new(job_type_id=job_type(mounts=REFS, settings=TOKENS).pk, data={})
    jobs_schedule()
    _failed_unrun(job, "missing-mount")


def test_it_runs_a_job_whose_own_configuration_supplies_the_setting():
    host()
    carols = job_type(settings=[{"name": "MODE", "secret": False}])
    job = job_queue_new(
        job_type_id=carols.pk, data={}, configuration={"settings": {"MODE": "slow"}}
    )
    assert jobs_schedule() == 1
    job.refresh_from_db()
    assert dict(Execution.objects.get(pk=job.execution_id).env)["MODE"] == "slow"


def test_it_counts_a_secret_setting_the_secret_store_holds_as_present():
    host()
    stored = job_type(settings=TOKENS, configuration={"settings": {"PASSWORD": "hunter2"}})
    job = job_queue_new(
        job_type_id=stored.pk, data={}, configuration={"settings": {"API_KEY": "k"}}
    )
    # A type that declares the same secret without storing it: the store is read per type.
    unstored = job_type(settings=TOKENS)
    other = job_queue_new(
        job_type_id=unstored.pk, data={}, configuration={"settings": {"API_KEY": "k"}}
    )
    assert jobs_schedule() == 1
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.execution_id
    assert "'PASSWORD'" in _failed_unrun(other, "missing-setting").events.last().description


def test_it_counts_an_empty_setting_value_as_missing():
    # The schema refuses "" in a configuration; one already stored (written before that rule,
    # or by hand) is still no value: the job would run with an empty variable.
    host()
    daves = job_type(settings=[{"name": "MODE", "secret": False}])
    job = job_queue_new(job_type_id=daves.pk, data={}, configuration={"settings": {"MODE": "x"}})
    Job.objects.filter(pk=job.pk).update(
        configuration={**job.configuration, "settings": {"MODE": ""}}
    )
    assert jobs_schedule() == 0
    _failed_unrun(job, "missing-setting")


def test_a_failed_job_does_not_hold_back_the_jobs_behind_it(monkeypatch):
    # One slot in all: a session worker's own host row (it heartbeats into this database) would
    # add its slots to the pass's budget.
    Host.objects.all().delete()
    host(slots=1)
    asked = []
    monkeypatch.setattr(config_gaps, "step_after_commit", asked.append)
    unconfigured = job_queue_new(
        job_type_id=job_type(mounts=REFS).pk, data={}, configuration={"priority": 1}
    )
    behind = job_queue_new(job_type_id=job_type().pk, data={})
    # The pass spent its one slot on a job that cannot run: it asks for another pass at once.
    assert jobs_schedule() == 0
    assert asked == [ScheduleJobs()]
    _failed_unrun(unconfigured, "missing-mount")
    assert jobs_schedule() == 1
    behind.refresh_from_db()
    assert behind.execution_id


def test_a_requeued_job_runs_once_its_missing_secret_is_stored():
    host()
    erins = job_type(settings=[{"name": "PASSWORD", "secret": True}])
    job = job_queue_new(job_type_id=erins.pk, data={})
    jobs_schedule()
    _failed_unrun(job, "missing-setting")
    job_type_edit(
        name=erins.name,
        version=erins.version,
        changes={},
        configuration={"settings": {"PASSWORD": "hunter2"}},
    )
    assert jobs_requeue(jobs=Job.objects.filter(pk=job.pk)) == 1
    assert jobs_schedule() == 1
    job.refresh_from_db()
    assert job.num_exes == 2 and job.execution_id and job.error is None
