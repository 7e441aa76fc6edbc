"""/worker/*: spec §5 Workers, plus the secret QUIRK fix and pausing."""

from __future__ import annotations

import base64

import pytest

from domain.tracker.models import Worker
from tests.api.tracker.conftest import make_worker, submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_get_worker(tt):
    reply = tt.post("/worker/create", {"alias": "alice's drone"})
    worker = reply.json()["content"]["worker"]
    assert worker["alias"] == "alice's drone"
    assert worker["paused"] is False
    assert len(base64.b64decode(worker["secret"])) == 32
    got = tt.get(f"/worker/get/{worker['id']}").json()
    assert got["ok"] is True
    assert got["content"]["worker"] == {
        "id": worker["id"],
        "created": worker["created"],
        "alias": "alice's drone",
        "secret": None,
        "paused": False,
    }


def test_the_secret_is_stored_hashed(tt):
    worker = tt.post("/worker/create", {"alias": "a"}).json()["content"]["worker"]
    stored = bytes(Worker.objects.get(pk=worker["id"]).secret_hash)
    assert stored != base64.b64decode(worker["secret"])
    assert worker["secret"].encode() not in stored


def test_an_empty_alias_becomes_default_alias(tt):
    worker = tt.post("/worker/create", {}).json()["content"]["worker"]
    assert worker["alias"] == "default_alias"


def test_get_worker_not_found_and_invalid(tt):
    reply = tt.get("/worker/get/99999999")
    assert (reply.status_code, reply.json()) == (404, {"ok": False, "message": "Worker not found"})
    reply = tt.get("/worker/get/-1")
    assert reply.status_code == 400
    assert reply.json()["ok"] is False and reply.json()["message"]


def test_create_worker_alias_invalid(tt):
    reply = tt.post("/worker/create", {"alias": "unassigned"})
    assert reply.status_code == 403
    assert reply.json() == {"ok": False, "message": "You are now allowed to create a worker"}


def test_create_worker_with_an_unparseable_body_answers_200_empty(tt):
    reply = tt.post("/worker/create", raw=b"{not json")
    assert (reply.status_code, reply.content) == (200, b"")


def test_update_alias_valid(tt):
    worker = make_worker(tt, "before")
    assert worker.post("/worker/update", {"alias": "after"}).json() == {"ok": True}
    got = tt.get(f"/worker/get/{worker.worker_id}").json()["content"]["worker"]
    assert got["alias"] == "after"


def test_update_alias_to_unassigned_is_refused(tt):
    worker = make_worker(tt, "before")
    reply = worker.post("/worker/update", {"alias": "unassigned"})
    assert reply.json() == {"ok": False, "message": "Could not update worker"}


def test_assign_task_when_paused(setup):
    submit(setup.worker, setup.project)
    reply = setup.admin.post(
        "/worker/set_paused", {"worker": setup.worker.worker_id, "paused": True}
    )
    assert reply.json() == {"ok": True}
    reply = setup.worker.get(f"/task/get/{setup.project}")
    assert reply.status_code == 400
    assert "paused" in reply.json()["message"]
    setup.admin.post("/worker/set_paused", {"worker": setup.worker.worker_id, "paused": False})
    assert setup.worker.get(f"/task/get/{setup.project}").json()["ok"] is True


def test_pause_invalid_worker(admin):
    reply = admin.post("/worker/set_paused", {"worker": 99999999, "paused": True})
    assert (reply.status_code, reply.json()) == (400, {"ok": False, "message": "Invalid worker"})


def test_pause_unauthorized(tt, user):
    worker = make_worker(tt)
    reply = user.post("/worker/set_paused", {"worker": worker.worker_id, "paused": True})
    assert reply.status_code == 403
    assert tt.post("/worker/set_paused", {"worker": worker.worker_id}).status_code == 403


def test_worker_stats_lists_every_worker(tt):
    a = make_worker(tt, "a")
    make_worker(tt, "b")
    stats = tt.get("/worker/stats").json()["content"]["stats"]
    assert {s["alias"] for s in stats} == {"a", "b"}
    mine = next(s for s in stats if s["id"] == a.worker_id)
    assert mine == {"alias": "a", "closed_task_count": 0, "paused": False, "id": a.worker_id}


def test_invalid_access_request(tt):
    # Both roles false is refused before authentication.
    reply = tt.post("/project/request_access", {"assign": False, "submit": False, "project": 1})
    assert (reply.status_code, reply.json()) == (400, {"ok": False, "message": "Invalid request"})
