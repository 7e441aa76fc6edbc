"""Issue 7 item 9: /worker/create needs no credentials, as the original's drones expect, so the
workers one client address may create are limited; TRACKER_WORKER_CREATE=token closes it to
API-token holders."""

from __future__ import annotations

import pytest

from domain.tracker import conf
from domain.tracker.models import Worker
from tests.api.tracker.conftest import Tracker
from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)
UNAUTHORIZED = {"ok": False, "message": "Unauthorized"}


@pytest.fixture
def limited(monkeypatch, redis_client):
    # The live server runs in this process: the settings can be set here.
    monkeypatch.setattr(conf, "WORKER_CREATE_RATE", 0.001, raising=False)
    monkeypatch.setattr(conf, "WORKER_CREATE_BURST", 3, raising=False)
    redis_client.delete("tracker:rate:worker_create:127.0.0.1")
    yield
    redis_client.delete("tracker:rate:worker_create:127.0.0.1")


def test_it_limits_the_workers_mallory_creates_from_one_address(tt, limited):
    for i in range(3):
        reply = tt.post("/worker/create", {"alias": f"drone {i}"})
        assert reply.json()["ok"] is True, reply.text
    reply = tt.post("/worker/create", {"alias": "one too many"})
    assert reply.status_code == 429
    body = reply.json()
    assert (body["ok"], body["message"]) == (False, "Too many requests")
    # One creation per 1000 s: the honest drone is told how long to wait.
    assert 900 < body["rate_limit_delay"] <= 1000
    assert Worker.objects.count() == 3


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": bearer(token)["HTTP_AUTHORIZATION"]}


def test_it_lets_only_admin_and_dev_tokens_create_workers_when_closed(
    tt, monkeypatch, admin_token, dev_token, user_token
):
    monkeypatch.setattr(conf, "WORKER_CREATE", "token", raising=False)
    anonymous = tt.post("/worker/create", {"alias": "drone"})
    assert (anonymous.status_code, anonymous.json()) == (401, UNAUTHORIZED)
    wrong = tt.post("/worker/create", {"alias": "drone"}, headers=_auth("not-a-token"))
    assert wrong.status_code == 401
    user = tt.post("/worker/create", {"alias": "drone"}, headers=_auth(user_token))
    assert (user.status_code, user.json()) == (403, UNAUTHORIZED)
    assert not Worker.objects.exists()
    for token in (admin_token, dev_token):
        reply = tt.post("/worker/create", {"alias": "drone"}, headers=_auth(token))
        worker = reply.json()["content"]["worker"]
        assert (worker["alias"], len(worker["secret"])) == ("drone", 44)
        assert Tracker(tt.base, worker["id"], worker["secret"]).post(
            "/worker/update", {"alias": "renamed"}
        ).json() == {"ok": True}
