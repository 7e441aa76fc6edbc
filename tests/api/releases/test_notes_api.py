"""/release-notes over the Django test client."""

from __future__ import annotations

import pytest

from domain.releases.models import ReleaseNote

pytestmark = pytest.mark.django_db


def test_notes_crud_and_validation(admin, user, anon, release):
    body = {
        "description": "cats",
        "author": "daniel",
        "release": release.kf_id,
        "study": "SD_00000001",
    }
    resp = admin.post("/release-notes", body)
    assert resp.status_code == 201
    note = resp.json()
    assert note["kf_id"].startswith("RN_")
    assert note["study"] == "http://testserver/studies/SD_00000001"
    assert anon.get(f"/releases/{release.kf_id}").json()["notes"] == [
        f"http://testserver/release-notes/{note['kf_id']}"
    ]
    assert anon.get("/release-notes", study="SD_00000001").json()["count"] == 1
    assert anon.get("/release-notes", author="nobody").json()["count"] == 0
    assert anon.get("/release-notes", release="RE_00000000").status_code == 400
    resp = admin.patch(f"/release-notes/{note['kf_id']}", {"description": "dogs"})
    assert resp.json()["description"] == "dogs"
    for bad in (
        {"description": "x"},
        {"release": "RE_00000000"},
        {"release": release.kf_id, "study": "SD_00000002"},
        {"release": release.kf_id, "study": "SD_NOPE0000"},
        {"release": release.kf_id, "description": "x" * 5001},
        {"release": 7},
    ):
        assert admin.post("/release-notes", bad).status_code == 400, bad
    assert admin.patch(f"/release-notes/{note['kf_id']}", {"release": None}).status_code == 400
    assert (
        admin.patch(f"/release-notes/{note['kf_id']}", {"study": "SD_00000002"}).status_code == 400
    )
    assert user.post("/release-notes", body).status_code == 403
    assert user.delete(f"/release-notes/{note['kf_id']}").status_code == 403
    assert admin.delete(f"/release-notes/{note['kf_id']}").status_code == 204
    assert not ReleaseNote.objects.exists()
