"""/releases over the Django test client: fields, versions, filters, pagination, permissions."""

from __future__ import annotations

import pytest

from domain.releases import services
from domain.releases.models import Event, Release, Study

pytestmark = pytest.mark.django_db

RELEASE_FIELDS = {
    "kf_id", "name", "description", "notes", "state", "studies", "tasks", "version",
    "created_at", "tags", "author", "is_major",
}  # fmt: skip


def _create(api, **body):
    return api.post("/releases", {"name": "R", "studies": ["SD_00000001"], **body})


def test_create_returns_the_release_with_every_field(admin, studies):
    resp = _create(admin, description="d", tags=["a"], author="daniel", version="9.9.9")
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) == RELEASE_FIELDS
    assert body["kf_id"].startswith("RE_") and len(body["kf_id"]) == 11
    assert body["state"] == "waiting"
    assert body["version"] == "0.0.0"  # a client-sent version is ignored
    assert body["studies"] == ["SD_00000001"]
    assert body["tags"] == ["a"] and body["author"] == "daniel"
    assert body["created_at"].endswith("Z")


def test_versions_bump_patch_on_create_and_minor_or_major_on_publish(admin, studies):
    first = _create(admin).json()["kf_id"]
    services.release_prepare(release_id=first)  # no services: straight to staged
    services.release_publish(release_id=first)
    assert Release.objects.get(pk=first).version == "0.1.0"
    second = _create(admin, is_major=True).json()
    assert second["version"] == "0.1.1"
    services.release_prepare(release_id=second["kf_id"])
    services.release_publish(release_id=second["kf_id"])
    published = admin.get(f"/releases/{second['kf_id']}").json()
    assert published["version"] == "1.0.0"
    assert published["state"] == "published"
    messages = [e.message for e in Event.objects.filter(release_id=second["kf_id"])]
    assert f"release {second['kf_id']}, version 1.0.0 changed from publishing to published" in (
        messages
    )


def test_study_fields_follow_releases(admin, anon, studies):
    r1 = _create(admin, studies=["SD_00000001", "SD_00000002"]).json()["kf_id"]
    services.release_prepare(release_id=r1)
    services.release_publish(release_id=r1)
    r2 = _create(admin, studies=["SD_00000002"]).json()["kf_id"]
    services.release_prepare(release_id=r2)
    services.release_publish(release_id=r2)
    r3 = _create(admin, studies=["SD_00000002"]).json()
    one = anon.get("/studies/SD_00000001").json()
    two = anon.get("/studies/SD_00000002").json()
    assert (one["version"], one["last_pub_version"]) == ("0.1.0", "0.1.0")
    assert (two["version"], two["last_pub_version"]) == (r3["version"], "0.2.0")
    assert two["last_pub_date"] == anon.get(f"/releases/{r2}").json()["created_at"]
    nested = anon.get("/studies/SD_00000002/releases").json()
    assert [r["kf_id"] for r in nested["results"]] == [r3["kf_id"], r2, r1]


def test_list_is_newest_first_filtered_and_paginated(admin, anon, studies):
    ids = [_create(admin, name=f"R{i}").json()["kf_id"] for i in range(12)]
    page = anon.get("/releases").json()
    assert page["count"] == 12
    assert [r["kf_id"] for r in page["results"]] == ids[::-1][:10]
    assert page["next"] == "http://testserver/releases?limit=10&offset=10"
    assert page["previous"] is None
    second = anon.get("/releases", limit=10, offset=10).json()
    assert [r["kf_id"] for r in second["results"]] == ids[::-1][10:]
    assert second["previous"].startswith("http://testserver/releases?limit=10")
    services.release_prepare(release_id=ids[0])
    staged = anon.get("/releases", state="staged").json()
    assert [r["kf_id"] for r in staged["results"]] == [ids[0]]
    assert anon.get("/releases", state="bogus").status_code == 400
    assert anon.get("/releases", limit="x").status_code == 400


def test_study_validation_messages(admin, studies):
    resp = _create(admin, studies=[])
    assert resp.status_code == 400
    assert resp.json() == {"studies": ["Must have at least one study"]}
    resp = _create(admin, studies=["SD_NOPE0000"])
    assert resp.json() == {"studies": ['Invalid pk "SD_NOPE0000" - object does not exist.']}
    assert not Release.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"studies": ["SD_00000001"]},
        {"name": "", "studies": ["SD_00000001"]},
        {"name": 5, "studies": ["SD_00000001"]},
        {"name": "x" * 257, "studies": ["SD_00000001"]},
        {"name": "R", "studies": "SD_00000001"},
        {"name": "R", "studies": ["SD_00000001"], "tags": ["x" * 51]},
        {"name": "R", "studies": ["SD_00000001"], "tags": "a"},
        {"name": "R", "studies": ["SD_00000001"], "is_major": "maybe"},
        {"name": "R", "studies": ["SD_00000001"], "description": "x" * 5001},
        {"name": "R", "studies": [None]},
    ],
)
def test_bad_release_bodies_get_400_and_write_nothing(admin, studies, body):
    resp = admin.post("/releases", body)
    assert resp.status_code == 400, resp.content
    assert not Release.objects.exists()


def test_malformed_json_gets_400(admin, studies):
    resp = admin.post("/releases", raw="{not json")
    assert resp.status_code == 400
    assert not Release.objects.exists()


def test_patch_and_put(admin, studies):
    kf_id = _create(admin).json()["kf_id"]
    resp = admin.patch(f"/releases/{kf_id}", {"tags": ["t1", "t2"], "name": "New"})
    assert resp.status_code == 200
    assert resp.json()["tags"] == ["t1", "t2"] and resp.json()["name"] == "New"
    assert admin.patch(f"/releases/{kf_id}", {"name": None}).status_code == 400
    assert admin.patch(f"/releases/{kf_id}", {"studies": []}).status_code == 400
    assert admin.patch(f"/releases/{kf_id}", {"tags": [1]}).status_code == 400
    assert admin.put(f"/releases/{kf_id}", {"name": "P"}).status_code == 400
    resp = admin.put(f"/releases/{kf_id}", {"name": "P", "studies": ["SD_00000002"]})
    assert resp.json()["studies"] == ["SD_00000002"]
    assert Release.objects.get(pk=kf_id).name == "P"
    assert admin.patch("/releases/RE_00000000", {"name": "x"}).status_code == 404


def test_delete_cancels_and_never_deletes(admin, studies):
    kf_id = _create(admin).json()["kf_id"]
    resp = admin.delete(f"/releases/{kf_id}")
    assert resp.status_code == 200
    assert resp.json()["state"] == "canceling"
    services.release_cancel_finish(release_id=kf_id)
    assert Release.objects.get(pk=kf_id).state == "canceled"
    assert Event.objects.filter(release_id=kf_id).count() == 2
    assert admin.delete(f"/releases/{kf_id}").json()["state"] == "canceled"
    assert Event.objects.filter(release_id=kf_id).count() == 2


def test_unknown_release_is_404_with_an_empty_body_on_delete_only(admin, anon, studies):
    # Spec §2: the original's DELETE of an unknown id answers 404 `{}`; other methods say why.
    resp = admin.delete("/releases/RE_00000000")
    assert resp.status_code == 404
    assert resp.json() == {}
    for resp in (
        anon.get("/releases/RE_00000000"),
        admin.patch("/releases/RE_00000000", {"name": "x"}),
        admin.put("/releases/RE_00000000", {"name": "x", "studies": ["SD_00000001"]}),
        admin.post("/releases/RE_00000000/publish"),
    ):
        assert resp.status_code == 404
        assert resp.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("studies_sent", "message"),
    [
        ([], "Must have at least one study"),
        (["SD_NOPE0000"], 'Invalid pk "SD_NOPE0000" - object does not exist.'),
        (["SD_00000001", "SD_NOPE0000"], 'Invalid pk "SD_NOPE0000" - object does not exist.'),
    ],
)
def test_a_bad_study_list_is_400_before_the_group_check(user, studies, studies_sent, message):
    # Charlie may release SD_00000001 only; a list that is invalid is still a 400, not a 403.
    resp = _create(user, studies=studies_sent)
    assert resp.status_code == 400
    assert resp.json() == {"studies": [message]}
    assert not Release.objects.exists()


def test_publish_needs_a_staged_release(admin, studies):
    kf_id = _create(admin).json()["kf_id"]
    resp = admin.post(f"/releases/{kf_id}/publish")
    assert resp.status_code == 400
    assert resp.json() == {"detail": "release may not change from waiting to publishing"}
    assert Release.objects.get(pk=kf_id).state == "waiting"
    services.release_prepare(release_id=kf_id)
    resp = admin.post(f"/releases/{kf_id}/publish")
    assert resp.json() == {"message": "publishing"}
    assert Release.objects.get(pk=kf_id).state == "published"
    assert admin.post("/releases/RE_00000000/publish").status_code == 404


def test_write_permissions(anon, user, dev, admin, studies):
    # Anonymous writes: DRF's text; 401 with `WWW-Authenticate` without an Authorization header
    # (the original said 403), 403 with a token that is no credential.
    resp = _create(anon)
    assert resp.status_code == 401 and resp["WWW-Authenticate"] == "Bearer"
    assert resp.json() == {"detail": "Authentication credentials were not provided."}
    body = {"name": "R", "studies": ["SD_00000001"]}
    resp = anon.post("/releases", body, token="rg_not-a-token")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Authentication credentials were not provided."}
    # A user may release studies of their own groups only.
    assert _create(user).status_code == 201
    resp = _create(user, studies=["SD_00000002"])
    assert resp.status_code == 403 and resp.json() == {"detail": "Not allowed"}
    resp = _create(user, studies=["SD_00000001", "SD_00000002"])
    assert resp.status_code == 403
    assert _create(dev).status_code == 403  # the dev token has no study groups
    kf_id = _create(admin).json()["kf_id"]
    assert user.patch(f"/releases/{kf_id}", {"name": "x"}).status_code == 403
    assert user.delete(f"/releases/{kf_id}").status_code == 403
    assert Release.objects.get(pk=kf_id).state == "waiting"
    # Reads stay open.
    assert anon.get(f"/releases/{kf_id}").status_code == 200


def test_publish_permissions_follow_study_groups(user, admin, studies):
    other = _create(admin, studies=["SD_00000002"]).json()["kf_id"]
    services.release_prepare(release_id=other)
    assert user.post(f"/releases/{other}/publish").status_code == 403
    assert Release.objects.get(pk=other).state == "staged"
    mine = _create(user).json()["kf_id"]
    services.release_prepare(release_id=mine)
    assert user.post(f"/releases/{mine}/publish").status_code == 200


def test_status_checks_trigger_needs_admin_or_service(anon, user, admin, studies):
    assert anon.post("/releases/status_checks").status_code == 401
    assert user.post("/releases/status_checks").status_code == 403
    resp = admin.post("/releases/status_checks")
    assert resp.status_code == 200
    assert resp.json()["message"] == "0 releases to check"


def test_studies_are_read_only(anon, admin, studies):
    for method in ("post", "put", "patch", "delete"):
        resp = getattr(admin, method)("/studies/SD_00000001")
        assert resp.status_code == 405
        assert resp.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert admin.post("/studies").status_code == 405
    assert anon.get("/studies/SD_NOPE0000").status_code == 404
    assert Study.objects.count() == 2
