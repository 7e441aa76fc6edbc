"""Host mounts over HTTP: a configuration naming a host path outside
EXECUTIONS_HOST_MOUNT_ROOTS is refused when a job type is registered (400), named in
`/validation` (200, not valid), and refused when a job brings it (400); one inside is mapped onto
the execution at the manifest's path and mode. Bob (a developer) registers and queues; Mallory's
configuration points at the host's secrets."""

from __future__ import annotations

import pytest

from domain.executions.models import Execution
from domain.jobs.models import Job, JobType
from domain.jobs.scheduling import jobs_schedule
from tests.domain.jobs.jobs_support import host, job_type, seed

pytestmark = pytest.mark.django_db
MOUNTS = [{"name": "refs", "path": "/refs"}, {"name": "out", "path": "/out", "mode": "rw"}]


@pytest.fixture(autouse=True)
def allowed(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = str(tmp_path / "data")
    (tmp_path / "allowed" / "refs").mkdir(parents=True)
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", str(tmp_path / "allowed"))
    return tmp_path / "allowed"


def _config(refs: str, out: str = "/nowhere") -> dict:
    return {
        "mounts": {
            "refs": {"type": "host", "host_path": refs},
            "out": {"type": "volume", "driver": "local", "driver_opts": {"type": "tmpfs"}},
        }
    }


def test_registering_a_host_mount_outside_the_roots_is_a_400_and_saves_nothing(bob):
    body = {"docker_image": "img:1", "manifest": seed(name="peek", mounts=MOUNTS)}
    resp = bob.post("/v6/job-types/", {**body, "configuration": _config("/etc")})

    assert resp.status_code == 400
    detail = resp.json()["detail"]
    assert detail.startswith("Job type configuration invalid: HOST_MOUNT_NOT_ALLOWED: mount refs")
    assert not JobType.objects.exists()


def test_validation_names_a_host_mount_outside_the_roots(charlie, allowed):
    body = {"manifest": seed(name="peek", mounts=MOUNTS)}
    escape = str(allowed / ".." / ".." / "etc")
    resp = charlie.post("/v6/job-types/validation/", {**body, "configuration": _config(escape)})

    assert resp.status_code == 200
    found = resp.json()
    assert found["is_valid"] is False
    assert [e["name"] for e in found["errors"]] == ["HOST_MOUNT_NOT_ALLOWED"]


def test_a_job_bringing_a_host_mount_outside_the_roots_is_a_400(bob, allowed):
    typed = job_type(mounts=MOUNTS, configuration=_config(str(allowed / "refs")))
    resp = bob.post(
        "/v6/jobs/",
        {"job_type_id": typed.pk, "input": {}, "configuration": _config("/root")},
    )

    assert resp.status_code == 400
    assert "HOST_MOUNT_NOT_ALLOWED" in resp.json()["detail"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "mounts",
    [
        {"refs": {"type": "host"}},
        {"refs": {"type": "host", "host_path": 5}},
        {"refs": {"type": "nfs", "host_path": "/x"}},
        {"refs": {"type": "volume", "driver_opts": {"o": 1}}},
        ["refs"],
    ],
)
def test_a_malformed_mount_is_a_400(bob, mounts):
    body = {"docker_image": "img:1", "manifest": seed(name="bad", mounts=MOUNTS)}
    resp = bob.post("/v6/job-types/", {**body, "configuration": {"mounts": mounts}})

    assert resp.status_code == 400
    assert "INVALID_CONFIGURATION" in resp.json()["detail"]


def test_a_mount_inside_the_roots_reaches_the_execution_at_the_manifests_path(bob, allowed):
    body = {"docker_image": "img:1", "manifest": seed(name="reader", mounts=MOUNTS)}
    resp = bob.post("/v6/job-types/", {**body, "configuration": _config(str(allowed / "refs"))})
    assert resp.status_code == 201, resp.content
    host(cluster="default")
    queued = bob.post("/v6/jobs/", {"job_type_id": JobType.objects.get().pk, "input": {}})
    assert queued.status_code == 201, queued.content

    jobs_schedule()
    execution = Execution.objects.get(pk=Job.objects.get().execution_id)
    assert execution.mounts == [
        {
            "name": "refs",
            "path": "/refs",
            "mode": "ro",
            "type": "host",
            "host_path": str(allowed / "refs"),
        },
        {
            "name": "out",
            "path": "/out",
            "mode": "rw",
            "type": "volume",
            "driver": "local",
            "driver_opts": {"type": "tmpfs"},
        },
    ]
    # No file inputs or outputs: nothing to stage, so a kubernetes cluster could run it.
    assert execution.stages_files is False
