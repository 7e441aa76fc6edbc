"""domain/jobs/queueing.py: a new job is checked against its type's manifest and queued (A.12),
cancel and requeue by filter. Bob (a developer) queues the jobs."""

from __future__ import annotations

import pytest

from domain.common.errors import InvalidInput
from domain.executions import conf as executions_conf
from domain.jobs.job_types import job_type_edit
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Job, JobEvent, JobStatus
from domain.jobs.queueing import job_queue_new, jobs_cancel, jobs_requeue
from domain.jobs.seed_env import job_environment
from tests.domain.jobs.jobs_support import input_file, job_type

pytestmark = pytest.mark.django_db

INPUTS = {
    "files": [{"name": "IMAGE"}, {"name": "EXTRAS", "multiple": True, "required": False}],
    "json": [
        {"name": "COUNT", "type": "integer"},
        {"name": "NOTE", "type": "string", "required": False},
    ],
}


@pytest.fixture
def typed(settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")
    return job_type(
        inputs=INPUTS,
        scalars=[{"name": "mem", "value": 64}, {"name": "disk", "value": 1, "inputMultiplier": 2}],
    )


def test_it_queues_a_job_with_valid_input_and_inherits_the_types_configuration(typed, tmp_path):
    image = input_file(tmp_path, "a.png", "x" * 2048)
    job = job_queue_new(
        job_type_id=typed.pk, data={"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 3}}
    )
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.num_exes == 1 and job.max_tries == typed.max_tries
    assert job.priority == 100 and job.configuration["priority"] == 100
    # mem raised to Scale's minimum (128); disk = ceil(2 * input MiB + 1).
    assert job.resources["mem"] == 128 and job.resources["disk"] == 2
    assert list(JobEvent.objects.filter(job=job).values_list("type", "target")) == [
        ("USER", "QUEUED")
    ]


def test_it_takes_the_jobs_own_priority_over_the_types(typed, tmp_path):
    image = input_file(tmp_path, "a.png", "x")
    job = job_queue_new(
        job_type_id=typed.pk,
        data={"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 1}},
        configuration={"priority": 7},
    )
    assert job.priority == 7


def test_a_jobs_own_setting_replaces_only_that_setting_of_the_types(settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")
    typed_with_settings = job_type(
        settings=[{"name": "REGION"}, {"name": "LEVEL"}],
        configuration={"settings": {"REGION": "north", "LEVEL": "1"}},
    )
    job = job_queue_new(
        job_type_id=typed_with_settings.pk, data={}, configuration={"settings": {"LEVEL": "9"}}
    )
    job.refresh_from_db()
    assert job.configuration["settings"] == {"REGION": "north", "LEVEL": "9"}
    env = dict(job_environment(job, SeedManifest(job.job_type_rev.manifest)))
    assert (env["REGION"], env["LEVEL"]) == ("north", "9")


@pytest.fixture
def jobs_on_kubernetes(monkeypatch):
    monkeypatch.setenv(
        "EXECUTIONS_CLUSTERS", '{"default": {"engine": "local"}, "kube": {"engine": "kubernetes"}}'
    )
    monkeypatch.setenv("SCALE_JOBS_CLUSTER", "kube")
    executions_conf.clusters.cache_clear()
    yield
    monkeypatch.undo()
    executions_conf.clusters.cache_clear()


@pytest.mark.usefixtures("jobs_on_kubernetes")
def test_it_refuses_a_job_with_files_to_stage_when_jobs_run_on_kubernetes(typed, tmp_path):
    image = input_file(tmp_path, "a.png", "x")
    with pytest.raises(InvalidInput, match="runs on kubernetes, which cannot stage files"):
        job_queue_new(
            job_type_id=typed.pk, data={"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 1}}
        )
    assert not Job.objects.filter(job_type=typed).exists()


@pytest.mark.usefixtures("jobs_on_kubernetes")
def test_it_queues_a_json_only_job_when_jobs_run_on_kubernetes(settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")
    json_only = job_type(inputs={"json": [{"name": "COUNT", "type": "integer"}]})
    job = job_queue_new(job_type_id=json_only.pk, data={"json": {"COUNT": 2}})
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


@pytest.mark.parametrize(
    "data, message",
    [
        ({"json": {"COUNT": 1}}, "required input IMAGE"),
        ({"files": {"IMAGE": [999999]}, "json": {"COUNT": 1}}, "no file with id 999999"),
        ({"files": {"IMAGE": "1"}, "json": {"COUNT": 1}}, "list of file ids"),
        ({"files": {"IMAGE": [True]}, "json": {"COUNT": 1}}, "list of file ids"),
        ({"files": {"IMAGE": [2**70]}, "json": {"COUNT": 1}}, "list of file ids"),
        ({"files": {"NOPE": [1]}, "json": {"COUNT": 1}}, "NOPE is not an input"),
        ({"files": {}, "json": {"COUNT": "3"}}, "required input IMAGE"),
        ([], "JSON object"),
        ({"extra": 1}, "extra is not one of"),
        ({"json": []}, "input.json must be an object"),
    ],
)
def test_it_refuses_input_that_breaks_the_manifest(typed, data, message):
    with pytest.raises(InvalidInput, match=message):
        job_queue_new(job_type_id=typed.pk, data=data)
    assert not Job.objects.exists()


def test_it_refuses_a_wrong_json_type_and_two_files_for_a_single_input(typed, tmp_path):
    a, b = input_file(tmp_path, "a", "1"), input_file(tmp_path, "b", "2")
    with pytest.raises(InvalidInput, match="COUNT must be of type integer"):
        job_queue_new(
            job_type_id=typed.pk, data={"files": {"IMAGE": [a.pk]}, "json": {"COUNT": True}}
        )
    with pytest.raises(InvalidInput, match="takes one file"):
        job_queue_new(
            job_type_id=typed.pk, data={"files": {"IMAGE": [a.pk, b.pk]}, "json": {"COUNT": 1}}
        )


def test_it_refuses_a_job_of_an_inactive_type_with_a_400_not_a_500(typed, tmp_path):
    # A.12: the original raised an uncaught error.
    job_type_edit(name=typed.name, version=typed.version, changes={"is_active": False})
    with pytest.raises(InvalidInput, match="not active"):
        job_queue_new(job_type_id=typed.pk, data={})


def test_it_refuses_a_bad_configuration(typed, tmp_path):
    image = input_file(tmp_path, "a.png", "x")
    data = {"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 1}}
    with pytest.raises(InvalidInput):
        job_queue_new(job_type_id=typed.pk, data=data, configuration={"priority": 0})
    with pytest.raises(InvalidInput):
        job_queue_new(
            job_type_id=typed.pk,
            data=data,
            configuration={"output_workspaces": {"default": "nowhere"}},
        )


def test_it_cancels_and_requeues_with_a_fresh_budget_of_tries(typed, tmp_path):
    image = input_file(tmp_path, "a.png", "x")
    job = job_queue_new(
        job_type_id=typed.pk, data={"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 1}}
    )
    assert jobs_cancel(jobs=Job.objects.filter(pk=job.pk)) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.ended is not None
    # Canceling again changes nothing.
    assert jobs_cancel(jobs=Job.objects.filter(pk=job.pk)) == 0
    assert jobs_requeue(jobs=Job.objects.filter(pk=job.pk), priority=5) == 1
    job.refresh_from_db()
    assert (job.status, job.num_exes, job.priority) == (JobStatus.QUEUED, 2, 5)
    assert job.max_tries == 1 + typed.max_tries
    assert list(JobEvent.objects.filter(job=job).values_list("type", flat=True)) == [
        "USER",
        "CANCEL",
        "REQUEUE",
    ]
    with pytest.raises(InvalidInput):
        jobs_requeue(jobs=Job.objects.all(), priority=0)
