"""/events over the Django test client."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_events_crud_filters_and_validation(admin, user, anon, running_task, release):
    body = {
        "event_type": "error",
        "message": f"task {running_task.kf_id} changed from pending to failed",
        "task": running_task.kf_id,
    }
    resp = admin.post("/events", body)
    assert resp.status_code == 201
    event = resp.json()
    assert event["kf_id"].startswith("EV_")
    assert event["release"] == f"http://testserver/releases/{release.kf_id}"
    assert event["task"] == f"http://testserver/tasks/{running_task.kf_id}"
    assert (
        anon.get("/events", task=running_task.kf_id).json()["results"][0]["kf_id"] == event["kf_id"]
    )
    assert anon.get("/events", study="SD_00000001").json()["count"] >= 1
    assert anon.get("/events", study="SD_00000002").json()["count"] == 0
    for bad in (
        {"event_type": "fatal", "message": "x"},
        {"message": "x" * 1001},
        {"release": "RE_00000000"},
        {"task": "nope"},
    ):
        assert admin.post("/events", bad).status_code == 400, bad
    assert admin.patch(f"/events/{event['kf_id']}", {"event_type": "fatal"}).status_code == 400
    assert admin.patch(f"/events/{event['kf_id']}", {"message": "m"}).json()["message"] == "m"
    assert anon.post("/events", {"message": "x"}).status_code == 401
    assert user.delete(f"/events/{event['kf_id']}").status_code == 403
    assert admin.delete(f"/events/{event['kf_id']}").status_code == 204
    assert admin.get(f"/events/{event['kf_id']}").status_code == 404
