"""Bad input on every endpoint of the Scale family: garbage, wrong types, huge numbers, missing
fields, NULs, unknown fields. Each is a 4xx `{"detail": …}` (never a 500) and writes no row.

Alice (an admin) sends them, so every refusal is about the input, not the caller."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps

from domain.jobs.workspaces import workspace_create
from tests.domain.jobs.seeds import minimal

pytestmark = pytest.mark.django_db

HOST = {"broker": {"type": "host", "host_path": "/srv/x"}}
JOB_TYPE = {"docker_image": "img:1", "manifest": minimal()}
TYPE_PATH = "/v6/job-types/random-number-gen/0.1.0/"


@pytest.fixture
def existing(alice):
    assert alice.post("/v6/job-types/", JOB_TYPE).status_code == 201
    return workspace_create(title="Raw", configuration=HOST)


def _rows() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_app_config("jobs").get_models()}


def _refused(resp, status: int = 400) -> None:
    assert resp.status_code == status, resp.content[:300]
    body = resp.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)


GARBAGE: dict[str, bytes] = {
    "not json": b"manifest=please",
    "broken json": b'{"manifest": ',
    "an array": b"[[]]",
    "a string": b'"docker_image"',
    "a number": b"42",
    "NaN": b'{"docker_image": "i", "manifest": {"x": NaN}}',
    "Infinity": b'{"max_scheduled": Infinity}',
    "a number past a double": b'{"manifest": {"job": {"timeout": 1e999}}}',
    "a NUL escape": b'{"docker_image": "img\\u0000", "manifest": {}}',
    "a NUL in a key": b'{"icon_code\\u0000": "x"}',
}


def _write_paths(workspace_id: int) -> list[tuple[str, str]]:
    return [
        ("POST", "/v6/job-types/"),
        ("POST", "/v6/job-types/validation/"),
        ("PATCH", TYPE_PATH),
        ("POST", "/v6/workspaces/"),
        ("POST", "/v6/workspaces/validation/"),
        ("PATCH", f"/v6/workspaces/{workspace_id}/"),
    ]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_bodies_are_refused_everywhere(alice, existing, garbage):
    before = _rows()
    for method, path in _write_paths(existing.pk):
        _refused(alice.send(method, path, raw=GARBAGE[garbage]))
    assert _rows() == before


# (path, body, what the answer names): wrong types, huge numbers, missing and unknown fields.
JOB_TYPE_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("/v6/job-types/", {"manifest": minimal()}, "docker_image"),
    ("/v6/job-types/", {"docker_image": "img"}, "manifest"),
    ("/v6/job-types/", {**JOB_TYPE, "docker_image": 5}, "docker_image"),
    ("/v6/job-types/", {**JOB_TYPE, "docker_image": ""}, "docker_image"),
    ("/v6/job-types/", {**JOB_TYPE, "manifest": "a manifest"}, "manifest"),
    ("/v6/job-types/", {**JOB_TYPE, "configuration": []}, "configuration"),
    ("/v6/job-types/", {**JOB_TYPE, "configuration": None}, "configuration"),
    ("/v6/job-types/", {**JOB_TYPE, "max_scheduled": "5"}, "max_scheduled"),
    ("/v6/job-types/", {**JOB_TYPE, "max_scheduled": -1}, "max_scheduled"),
    ("/v6/job-types/", {**JOB_TYPE, "max_scheduled": 2**63}, "max_scheduled"),
    ("/v6/job-types/", {**JOB_TYPE, "max_scheduled": 1.5}, "max_scheduled"),
    ("/v6/job-types/", {**JOB_TYPE, "is_paused": "yes"}, "is_paused"),
    ("/v6/job-types/", {**JOB_TYPE, "is_active": None}, "is_active"),
    ("/v6/job-types/", {**JOB_TYPE, "icon_code": "f" * 21}, "icon_code"),
    ("/v6/job-types/", {**JOB_TYPE, "priority": 1}, "priority is not a valid field"),
    ("/v6/job-types/", {**JOB_TYPE, "configuration": {"priority": 2**63}}, "INVALID_PRIORITY"),
    ("/v6/job-types/", {**JOB_TYPE, "manifest": minimal(name="a" * 60)}, "longer than 50"),
    ("/v6/job-types/validation/", {}, "manifest"),
    ("/v6/job-types/validation/", {"manifest": []}, "manifest"),
    (TYPE_PATH, {"max_scheduled": "BAD"}, "max_scheduled"),
    (TYPE_PATH, {"is_published": "true"}, "is_published"),
    (TYPE_PATH, {"manifest": None}, "manifest may not be null"),
    (TYPE_PATH, {"docker_image": None}, "docker_image may not be null"),
    (TYPE_PATH, {"revision_num": 3}, "revision_num is not a valid field. Valid fields are: "),
    (TYPE_PATH, {"manifest": {"seedVersion": "1.0.0"}}, "JSON_VALIDATION_ERROR"),
]


@pytest.mark.parametrize(("path", "body", "says"), JOB_TYPE_BODIES)
def test_invalid_job_type_bodies_are_refused(alice, existing, path, body, says):
    before = _rows()
    method = "PATCH" if path == TYPE_PATH else "POST"
    resp = alice.send(method, path, body)
    _refused(resp)
    assert says in resp.json()["detail"]
    assert _rows() == before


WORKSPACE_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"configuration": HOST}, "title"),
    ({"title": "T"}, "configuration"),
    ({"title": 5, "configuration": HOST}, "title"),
    ({"title": "", "configuration": HOST}, "title"),
    ({"title": "!!!", "configuration": HOST}, "title"),
    ({"title": "T", "configuration": "host"}, "configuration"),
    ({"title": "T", "configuration": {"broker": {"type": "nfs"}}}, "INVALID_CONFIGURATION"),
    ({"title": "T", "name": "has space", "configuration": HOST}, "name"),
    ({"title": "T", "name": "n" * 51, "configuration": HOST}, "name"),
    ({"title": "T", "is_active": "no", "configuration": HOST}, "is_active"),
]


@pytest.mark.parametrize(("body", "says"), WORKSPACE_BODIES)
def test_invalid_workspace_bodies_are_refused(alice, existing, body, says):
    before = _rows()
    resp = alice.post("/v6/workspaces/", body)
    _refused(resp)
    assert says in resp.json()["detail"]
    assert _rows() == before


@pytest.mark.parametrize(
    "body", [{"title": None}, {"is_active": 1}, {"configuration": {"broker": 3}}, {"title": ""}]
)
def test_invalid_workspace_edits_are_refused(alice, existing, body):
    _refused(alice.patch(f"/v6/workspaces/{existing.pk}/", body))
    existing.refresh_from_db()
    assert existing.title == "Raw"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v6/job-types/", {"page": "first"}, 400),
        ("/v6/job-types/", {"page": 0}, 400),
        ("/v6/job-types/", {"page": 10**30}, 404),
        ("/v6/job-types/", {"page_size": -5}, 400),
        ("/v6/job-types/", {"id": "one"}, 400),
        ("/v6/job-types/", {"is_active": "perhaps"}, 400),
        ("/v6/job-types/", {"order": "-"}, 400),
        ("/v6/job-type-names/", {"is_system": "2"}, 400),
        ("/v6/job-types/random-number-gen/", {"is_active": "nope"}, 400),
        ("/v6/job-types/random-number-gen/0.1.0/revisions/", {"page": 99}, 404),
        ("/v6/workspaces/", {"started": "P99999999999D"}, 400),
        ("/v6/workspaces/", {"ended": "2015-13-45T00:00:00Z"}, 400),
        ("/v6/job-types/", {"keyword": "nul\x00"}, 400),
    ],
)
def test_bad_queries_are_refused(charlie, existing, path, params, status):
    _refused(charlie.get(path, params), status)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v6/job-types/random-number-gen/0.1.0/revisions/0/", 400),
        ("/v6/job-types/random-number-gen/0.1.0/revisions/99999999999999999999/", 400),
        ("/v6/job-types/random-number-gen/0.1.0/revisions/first/", 400),
        ("/v6/workspaces/99999999999999999999999/", 400),
        ("/v6/workspaces/-1/", 400),
        ("/v6/workspaces/raw/", 400),
        ("/v6/job-types/nul%00/0.1.0/", 400),
        ("/v6/job-types/random-number-gen/%00/", 400),
    ],
)
def test_bad_path_parameters_are_refused(charlie, existing, path, status):
    _refused(charlie.get(path), status)


def test_huge_numbers_inside_a_manifest_are_stored_as_given(alice, charlie):
    manifest = minimal(timeout=10**30, resources={"scalar": [{"name": "mem", "value": 1e308}]})
    resp = alice.post("/v6/job-types/", {**JOB_TYPE, "manifest": manifest})
    assert resp.status_code == 201
    details = charlie.get(resp["Location"]).json()
    assert details["manifest"]["job"]["timeout"] == 10**30
