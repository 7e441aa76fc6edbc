"""/v6/job-type-names/ and /v6/job-types/… over HTTP: the spec's A.14 scenarios for job types,
versions with `-` and `+`, resets to null and false, lists, pages and /v7/.

Bob (a developer) registers job types; Charlie (a user) reads them."""

from __future__ import annotations

import pytest

from domain.jobs.models import JobType
from domain.jobs.workspaces import workspace_create
from tests.domain.jobs.seeds import complete, example, minimal

pytestmark = pytest.mark.django_db

HOST = {"broker": {"type": "host", "host_path": "/srv/files"}}
SECRET = "hunter2-do-not-show"


def register(api, manifest, **fields):
    return api.post("/v6/job-types/", {"docker_image": "img:1", "manifest": manifest, **fields})


@pytest.fixture
def workspace_1(db):
    return workspace_create(title="workspace_1", configuration=HOST)


def test_bob_registers_the_complete_example(bob, workspace_1, monkeypatch):
    # A.14-1
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", "/path/on")
    config = {
        "output_workspaces": {"default": "workspace_1"},
        "mounts": {"MOUNT_PATH": {"type": "host", "host_path": "/path/on/host"}},
        "settings": {"DB_HOST": "db.example.com", "DB_PASS": SECRET},
    }
    resp = register(bob, complete(), configuration=config, icon_code="f1c5")
    assert resp.status_code == 201, resp.content
    assert resp["Location"] == "http://testserver/v6/job-types/my-job/1.0.0/"
    body = resp.json()
    assert (body["name"], body["version"], body["revision_num"]) == ("my-job", "1.0.0", 1)
    assert body["max_scheduled"] is None and body["max_tries"] == 3
    assert body["icon_code"] == "f1c5"
    assert body["configuration"]["settings"] == {"DB_HOST": "db.example.com"}
    assert body["configuration"]["output_workspaces"]["default"] == "workspace_1"
    assert "version" not in body["configuration"]
    assert body["recipe_types"] == []


def test_bob_registers_the_minimal_manifest_published(bob, charlie):
    # A.14-2
    resp = register(bob, minimal(), is_published=True)
    assert resp.status_code == 201, resp.content
    assert resp.json()["is_published"] is True
    assert charlie.get(resp["Location"]).json()["is_published"] is True


@pytest.mark.parametrize("name", ["watermark", "random-number", "complete"])
def test_the_seed_examples_register_without_a_configuration(bob, name):
    # QUIRK fixed: file outputs without a workspace use the default workspace.
    assert register(bob, example(name)).status_code == 201


def test_a_new_version_of_a_name_is_listed_beside_the_first(bob, charlie):
    # A.14-3
    assert register(bob, minimal(version="1.0.0")).status_code == 201
    assert register(bob, minimal(version="1.1.0")).status_code == 201
    versions = charlie.get("/v6/job-types/random-number-gen/").json()
    assert [r["version"] for r in versions["results"]] == ["1.1.0", "1.0.0"]
    names = charlie.get("/v6/job-type-names/").json()["results"]
    assert sorted(names[0]["versions"]) == ["1.0.0", "1.1.0"]
    assert names[0]["latest_version"] == "1.1.0"


def test_registering_an_existing_name_and_version_again_is_an_upsert(bob, charlie):
    # A.14-4
    register(bob, minimal(version="1.0.0"))
    again = minimal(version="1.0.0", packageVersion="1.0.1")
    resp = bob.post("/v6/job-types/", {"docker_image": "img:2", "manifest": again})
    assert resp.status_code == 200
    assert resp.json() == {"errors": [], "is_valid": True, "warnings": []}
    details = charlie.get("/v6/job-types/random-number-gen/1.0.0/").json()
    assert (details["docker_image"], details["revision_num"]) == ("img:2", 2)


def test_no_answer_shows_a_secret_setting(bob, charlie):
    # A.14-5: GET shows `settings` without the secret, and no other answer has it either.
    resp = register(bob, complete(), configuration={"settings": {"DB_PASS": SECRET}})
    assert resp.status_code == 201
    assert resp.json()["configuration"]["settings"] == {}
    edit = bob.patch(
        "/v6/job-types/my-job/1.0.0/", {"configuration": {"settings": {"DB_PASS": SECRET + "2"}}}
    )
    assert edit.status_code == 200
    reads = [
        "/v6/job-type-names/",
        "/v6/job-types/",
        "/v6/job-types/my-job/",
        "/v6/job-types/my-job/1.0.0/",
        "/v6/job-types/my-job/1.0.0/revisions/",
        "/v6/job-types/my-job/1.0.0/revisions/1/",
    ]
    for path in reads:
        answer = charlie.get(path)
        assert answer.status_code == 200, path
        assert SECRET.encode() not in answer.content, path
    assert SECRET.encode() not in resp.content + edit.content


def test_empty_configuration_sections_are_accepted(bob):
    # A.14-6
    config = {"mounts": {}, "settings": {}, "output_workspaces": {}}
    assert register(bob, minimal(), configuration=config).status_code == 201


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"manifest": {"seedVersion": "1.0.0", "job": {"name": "x"}}}, "JSON_VALIDATION_ERROR"),
        ({"max_scheduled": "BAD"}, "max_scheduled"),
        (
            {"manifest": minimal(resources={"scalar": [{"name": "gpus", "value": 1.1}]})},
            "INVALID_GPUS",
        ),
        ({"manifest": minimal(name="validation")}, 'named \\"validation\\"'),
    ],
)
def test_bob_is_refused_an_invalid_job_type(bob, fields, says):
    # A.14-7
    body = {"docker_image": "img:1", "manifest": minimal(), **fields}
    resp = bob.post("/v6/job-types/", body)
    assert resp.status_code == 400
    assert set(resp.json()) == {"detail"}
    assert says in resp.content.decode()
    assert not JobType.objects.exists()


def test_a_refused_manifest_is_named_in_the_answer(bob):
    manifest = complete()
    manifest["job"]["interface"]["mounts"].append({"name": "MOUNT_PATH", "path": "/again"})
    resp = register(bob, manifest)
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("Seed Manifest invalid: DUPLICATE_MOUNT_NAMES: ")


def test_a_configuration_naming_no_workspace_is_refused(bob):
    resp = register(bob, minimal(), configuration={"output_workspaces": {"default": "nowhere"}})
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("Job type configuration invalid: INVALID_WORKSPACE")


def test_bob_edits_a_job_type(bob, charlie):
    register(bob, minimal())
    resp = bob.patch(
        "/v6/job-types/random-number-gen/0.1.0/",
        {"icon_code": "012F", "is_paused": True, "max_scheduled": 2, "docker_image": "img:3"},
    )
    assert resp.status_code == 200
    assert resp.json() == {"is_valid": True, "errors": [], "warnings": []}
    details = charlie.get("/v6/job-types/random-number-gen/0.1.0/").json()
    assert details["is_paused"] and details["paused"] is not None
    assert (details["max_scheduled"], details["icon_code"]) == (2, "012F")
    assert (details["docker_image"], details["revision_num"]) == ("img:3", 1)


def test_max_scheduled_and_is_published_reset_to_null_and_false(bob, charlie):
    # QUIRK fixed.
    register(bob, minimal(), max_scheduled=5, is_published=True)
    resp = bob.patch(
        "/v6/job-types/random-number-gen/0.1.0/", {"max_scheduled": None, "is_published": False}
    )
    assert resp.status_code == 200
    details = charlie.get("/v6/job-types/random-number-gen/0.1.0/").json()
    assert details["max_scheduled"] is None and details["is_published"] is False


def test_an_edit_with_a_manifest_returns_the_configurations_warnings(bob):
    register(bob, complete())
    resp = bob.patch("/v6/job-types/my-job/1.0.0/", {"manifest": complete()})
    assert resp.status_code == 200
    names = [w["name"] for w in resp.json()["warnings"]]
    assert names.count("MISSING_MOUNT") == 2


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/v6/job-types/my-job/1.0.0/", {"manifest": complete(name="other")}, 400, "must be"),
        ("/v6/job-types/my-job/1.0.0/", {"manifest": complete(jobVersion="2.0.0")}, 400, "must"),
        ("/v6/job-types/my-job/1.0.0/", {"configuration": {"priority": 0}}, 400, "PRIORITY"),
        ("/v6/job-types/missing/1.0.0/", {"is_paused": True}, 404, "Not found."),
    ],
)
def test_bob_is_refused_an_invalid_edit(bob, path, body, status, says):
    # A.14-9
    register(bob, complete())
    resp = bob.patch(path, body)
    assert resp.status_code == status
    assert says in resp.json()["detail"]
    assert JobType.objects.get().revision_num == 1


def test_revisions_after_one_manifest_edit(bob, charlie):
    # A.14-10
    register(bob, complete())
    bob.patch("/v6/job-types/my-job/1.0.0/", {"manifest": complete(title="Renamed")})
    page = charlie.get("/v6/job-types/my-job/1.0.0/revisions/").json()
    assert page["count"] == 2
    assert page["results"][0]["revision_num"] == 2
    assert page["results"][0]["job_type"]["title"] == "Renamed"
    first = charlie.get("/v6/job-types/my-job/1.0.0/revisions/1/").json()
    assert first["manifest"]["job"]["title"] == "My first job"
    for missing in (
        "/v6/job-types/missing-job/1.0.0/revisions/",
        "/v6/job-types/my-job/9.9.9/revisions/",
        "/v6/job-types/my-job/1.0.0/revisions/3/",
        "/v6/job-types/my-job/9.9.9/",
    ):
        resp = charlie.get(missing)
        assert resp.status_code == 404, missing
        assert resp.json() == {"detail": "Not found."}


def test_versions_with_a_prerelease_and_build_metadata_are_addressable(bob, charlie):
    # QUIRK fixed: the original's URL pattern refused `-` and `+`.
    resp = register(bob, minimal(version="1.0.0-rc.1+build.5"))
    assert resp.status_code == 201
    location = resp["Location"]
    assert location.endswith("/v6/job-types/random-number-gen/1.0.0-rc.1%2Bbuild.5/")
    for path in (location, "/v6/job-types/random-number-gen/1.0.0-rc.1+build.5/"):
        assert charlie.get(path).json()["version"] == "1.0.0-rc.1+build.5"
    edit = bob.patch("/v6/job-types/random-number-gen/1.0.0-rc.1+build.5/", {"is_paused": True})
    assert edit.status_code == 200
    revisions = charlie.get("/v6/job-types/random-number-gen/1.0.0-rc.1+build.5/revisions/")
    assert revisions.json()["count"] == 1


def test_lists_filter_and_order(bob, charlie):
    register(bob, complete())
    register(bob, minimal(), is_active=False)
    register(bob, example("watermark"))

    def names(path, params=None):
        return [r["name"] for r in charlie.get(path, params).json()["results"]]

    assert names("/v6/job-types/") == ["image-watermark", "my-job", "random-number-gen"]
    assert names("/v6/job-types/", {"order": "-name"})[0] == "random-number-gen"
    assert names("/v6/job-types/", {"keyword": "png"}) == ["my-job"]
    assert names("/v6/job-types/", {"is_active": "false"}) == ["random-number-gen"]
    assert names("/v6/job-type-names/", {"is_active": "true"}) == ["image-watermark", "my-job"]
    assert names("/v6/job-types/", {"is_system": "true"}) == []
    first = JobType.objects.get(name="my-job").pk
    assert names("/v6/job-types/", {"id": [first, 10**30]}) == ["my-job"]
    page = charlie.get("/v6/job-types/", {"page_size": 2, "page": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 1
    assert page["previous"] == "http://testserver/v6/job-types/?page_size=2"
    assert charlie.get("/v6/job-types/", {"page": 3, "page_size": 2}).status_code == 404
    refused = charlie.get("/v6/job-types/", {"order": "secret_field"})
    assert refused.status_code == 400


def test_an_unknown_name_has_no_versions(charlie):
    resp = charlie.get("/v6/job-types/nobody/")
    assert resp.status_code == 200
    assert resp.json()["results"] == []


def test_v7_is_served_the_same_as_v6(bob, charlie):
    resp = bob.post("/v7/job-types/", {"docker_image": "img:1", "manifest": minimal()})
    assert resp.status_code == 201
    assert resp["Location"] == "http://testserver/v7/job-types/random-number-gen/0.1.0/"
    for path in ("job-types/random-number-gen/0.1.0/", "job-type-names/", "workspaces/"):
        assert charlie.get(f"/v7/{path}").json() == charlie.get(f"/v6/{path}").json()
    assert charlie.get("/v5/job-types/").status_code == 404


def test_an_unknown_path_under_the_family_is_its_own_404(charlie):
    for path in ("/v6/nothing/", "/v6/job-types/a/b/c/d/e/", "/v7/nothing"):
        resp = charlie.get(path)
        assert resp.status_code == 404
        assert resp.json() == {"detail": "Not found."}


def test_the_validation_endpoint_names_every_problem_and_always_answers_200(
    bob, charlie, workspace_1
):
    # A.14-11
    def check(manifest, configuration=None):
        body = {"manifest": manifest}
        if configuration is not None:
            body["configuration"] = configuration
        resp = charlie.post("/v6/job-types/validation/", body)
        assert resp.status_code == 200
        found = resp.json()
        return found["is_valid"], [p["name"] for p in found["errors"] + found["warnings"]]

    valid, names = check(complete(), {"output_workspaces": {"default": "workspace_1"}})
    assert valid and names.count("MISSING_MOUNT") == 2
    assert "UNKNOWN_SETTING" in check(minimal(), {"settings": {"EXTRA": "x"}})[1]
    assert check(example("watermark"), {"output_workspaces": {"default": "nope"}}) == (
        False,
        ["INVALID_WORKSPACE"],
    )
    assert check(example("watermark")) == (True, ["MISSING_WORKSPACE"])
    bob.patch(f"/v6/workspaces/{workspace_1.pk}/", {"is_active": False})
    deprecated = {"output_workspaces": {"default": "workspace_1"}}
    assert check(example("watermark"), deprecated) == (True, ["DEPRECATED_WORKSPACE"])
    chocolate = minimal(resources={"scalar": [{"name": "chocolate", "value": 1}]})
    assert check(chocolate) == (True, ["NONSTANDARD_RESOURCE"])
    misplaced = minimal()
    misplaced["errors"] = [{"code": 1, "name": "oops"}]
    assert check(misplaced) == (False, ["JSON_VALIDATION_ERROR"])
    empty_outputs = minimal(
        interface={"command": "x", "outputs": {}, "inputs": {"files": [{"name": "IN"}]}}
    )
    assert check(empty_outputs) == (True, [])
    assert check(minimal(), {"priority": 0}) == (False, ["INVALID_PRIORITY"])
    assert check(minimal(name="validation")) == (False, ["RESERVED_NAME"])
    assert not JobType.objects.exists()
