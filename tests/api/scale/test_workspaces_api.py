"""/v6/workspaces/… over HTTP: list (with the default workspace of a fresh install), create,
details, edit, validation. Alice (admin) manages workspaces; Charlie (a user) reads them."""

from __future__ import annotations

import pytest

from domain.jobs.models import Workspace

pytestmark = pytest.mark.django_db

HOST = {"broker": {"type": "host", "host_path": "/host/path"}}
S3 = {
    "broker": {
        "type": "s3",
        "bucket_name": "my_bucket.domain.com",
        "credentials": {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI"},
        "region_name": "us-east-1",
    }
}


def test_a_fresh_install_lists_the_default_workspace(charlie, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    page = charlie.get("/v6/workspaces/").json()
    assert [w["name"] for w in page["results"]] == ["default"]
    details = charlie.get(f"/v6/workspaces/{page['results'][0]['id']}/").json()
    assert details["configuration"] == {
        "broker": {"type": "host", "host_path": str(tmp_path / "workspaces" / "default")}
    }


def test_alice_creates_a_workspace_named_after_its_title(alice, charlie):
    body = {"title": "Raw Source", "description": "Raw Source Workspace", "configuration": HOST}
    resp = alice.post("/v6/workspaces/", {**body, "base_url": "http://host.com/rs"})
    assert resp.status_code == 201, resp.content
    created = resp.json()
    assert created["name"] == "raw-source"
    assert resp["Location"] == f"http://testserver/v6/workspaces/{created['id']}/"
    assert created["configuration"] == HOST
    assert charlie.get(resp["Location"]).json() == created
    again = alice.post("/v6/workspaces/", body)
    assert again.status_code == 400 and "already exists" in again.json()["detail"]


def test_s3_credentials_are_never_shown(alice, charlie):
    resp = alice.post("/v6/workspaces/", {"title": "Products", "configuration": S3})
    assert resp.status_code == 201
    for answer in (resp, charlie.get(resp["Location"]), charlie.get("/v6/workspaces/")):
        assert b"wJalrXUtnFEMI" not in answer.content and b"AKIDEXAMPLE" not in answer.content
    shown = resp.json()["configuration"]["broker"]["credentials"]
    assert shown == {"access_key_id": "************", "secret_access_key": "************"}


def test_alice_edits_and_deprecates_a_workspace(alice, charlie):
    created = alice.post("/v6/workspaces/", {"title": "Raw", "configuration": HOST}).json()
    path = f"/v6/workspaces/{created['id']}/"
    resp = alice.patch(path, {"title": "Raw files", "is_active": False, "base_url": None})
    assert resp.status_code == 204
    assert resp.content == b""
    details = charlie.get(path).json()
    assert details["title"] == "Raw files"
    assert details["is_active"] is False and details["deprecated"] is not None
    assert alice.patch("/v6/workspaces/999999/", {"title": "x"}).status_code == 404


def test_lists_filter_by_name_and_time_and_order(alice, charlie):
    for title in ("Alpha", "Beta"):
        alice.post("/v6/workspaces/", {"title": title, "configuration": HOST})

    def names(params):
        resp = charlie.get("/v6/workspaces/", params)
        assert resp.status_code == 200, resp.content
        return [w["name"] for w in resp.json()["results"]]

    assert names({"name": ["alpha", "beta"], "order": "-name"}) == ["beta", "alpha"]
    assert names({"name": "alpha", "started": "PT1H"}) == ["alpha"]
    assert names({"name": "alpha", "ended": "2015-01-01T00:00:00Z"}) == []
    assert names({"name": "alpha", "started": "2015-01-01T00:00:00+02:00"}) == ["alpha"]
    assert names({"name": "alpha", "started": "0001-01-01T00:00:00+05:00"}) == ["alpha"]
    for bad in ({"started": "yesterday"}, {"ended": "P1Y"}, {"order": "bucket"}):
        resp = charlie.get("/v6/workspaces/", bad)
        assert resp.status_code == 400, bad
        assert set(resp.json()) == {"detail"}


def test_the_validation_endpoint_warns_of_a_broker_change(alice, charlie):
    alice.post("/v6/workspaces/", {"title": "Raw", "configuration": HOST})
    resp = charlie.post("/v6/workspaces/validation/", {"name": "raw", "configuration": S3})
    assert resp.status_code == 200
    assert resp.json()["warnings"][0]["name"] == "broker_type"
    bad = charlie.post("/v6/workspaces/validation/", {"configuration": {"broker": {}}})
    assert bad.status_code == 200
    assert bad.json()["is_valid"] is False
    assert bad.json()["errors"][0]["name"] == "INVALID_CONFIGURATION"
    assert Workspace.objects.count() == 1
