"""Who may call the Scale family: writes need an admin or dev token (none 401, a user 403);
reads and `/validation` any token, or none with SCALE_PUBLIC_READ_API=true.

Alice is an admin, Bob a developer, Charlie a user; Mallory has no token."""

from __future__ import annotations

import pytest

from domain.jobs.models import JobType, Workspace
from domain.jobs.workspaces import workspace_create
from tests.api.scale.conftest import Api
from tests.domain.jobs.seeds import minimal

pytestmark = pytest.mark.django_db

HOST = {"broker": {"type": "host", "host_path": "/srv/x"}}
JOB_TYPE = {"docker_image": "img:1", "manifest": minimal()}
READS = (
    "/v6/job-type-names/",
    "/v6/job-types/",
    "/v6/job-types/random-number-gen/",
    "/v6/job-types/random-number-gen/0.1.0/",
    "/v6/job-types/random-number-gen/0.1.0/revisions/",
    "/v6/job-types/random-number-gen/0.1.0/revisions/1/",
    "/v6/workspaces/",
)
VALIDATIONS = (
    ("/v6/job-types/validation/", {"manifest": minimal()}),
    ("/v6/workspaces/validation/", {"configuration": HOST}),
)


@pytest.fixture
def existing(bob):
    assert bob.post("/v6/job-types/", JOB_TYPE).status_code == 201
    return workspace_create(title="Raw", configuration=HOST)


def _writes(workspace_id: int) -> list[tuple[str, str, dict]]:
    return [(method, path, body) for method, path, body, _ in _writes_answered(workspace_id)]


def _writes_answered(workspace_id: int) -> list[tuple[str, str, dict, int]]:
    """Each write, and what a caller allowed to make it is answered."""
    return [
        ("POST", "/v6/job-types/", {**JOB_TYPE, "manifest": minimal(version="2.0.0")}, 201),
        ("PATCH", "/v6/job-types/random-number-gen/0.1.0/", {"is_paused": True}, 200),
        ("POST", "/v6/workspaces/", {"title": "New", "configuration": HOST}, 201),
        ("PATCH", f"/v6/workspaces/{workspace_id}/", {"title": "Renamed"}, 204),
    ]


def test_mallory_without_a_token_gets_401_everywhere(mallory, existing):
    for method, path, body in _writes(existing.pk):
        resp = mallory.send(method, path, body)
        assert resp.status_code == 401, path
        assert set(resp.json()) == {"detail"}
    for path in READS:
        assert mallory.get(path).status_code == 401, path
    for path, body in VALIDATIONS:
        assert mallory.post(path, body).status_code == 401, path


def test_a_token_that_is_no_credential_gets_401(existing):
    assert Api("rg_forged").get("/v6/job-types/").status_code == 401


def test_charlie_a_user_reads_and_validates_but_may_not_write(charlie, existing):
    for method, path, body in _writes(existing.pk):
        resp = charlie.send(method, path, body)
        assert resp.status_code == 403, path
        assert set(resp.json()) == {"detail"}
    for path in READS:
        assert charlie.get(path).status_code == 200, path
    for path, body in VALIDATIONS:
        assert charlie.post(path, body).status_code == 200, path
    assert JobType.objects.get().is_paused is False
    assert Workspace.objects.get(pk=existing.pk).title == "Raw"


@pytest.mark.parametrize("writer", ["alice", "bob"])
def test_admins_and_developers_write(request, writer, existing):
    api = request.getfixturevalue(writer)
    for method, path, body, status in _writes_answered(existing.pk):
        assert api.send(method, path, body).status_code == status, path


def test_public_reads_need_no_token_but_writes_still_do(mallory, existing, monkeypatch):
    monkeypatch.setenv("SCALE_PUBLIC_READ_API", "true")
    for path in READS:
        assert mallory.get(path).status_code == 200, path
    for path, body in VALIDATIONS:
        assert mallory.post(path, body).status_code == 200, path
    for method, path, body in _writes(existing.pk):
        assert mallory.send(method, path, body).status_code == 401, path
