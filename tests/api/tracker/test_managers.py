"""/register, /login, /logout, /account, /manager/*: spec §5 Auth."""

from __future__ import annotations

import pytest

from tests.api.tracker.conftest import Tracker, make_manager, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_first_manager_is_admin_and_second_is_not(admin, user):
    assert admin.get("/account").json()["content"]["manager"]["tracker_admin"] is True
    account = user.get("/account").json()
    assert account["content"]["logged_in"] is True
    assert account["content"]["manager"]["username"] == "bob"
    assert account["content"]["manager"]["tracker_admin"] is False


@pytest.mark.parametrize(
    "body", [{"username": "ab", "password": "longenough"}, {"username": "abc", "password": "short"}]
)
def test_invalid_register(tt, body):
    reply = tt.post("/register", body)
    assert (reply.status_code, reply.json()) == (
        400,
        {"ok": False, "message": "Invalid register request"},
    )


def test_duplicate_username(tt, admin):
    reply = tt.post("/register", {"username": "alice", "password": "correct horse"})
    assert reply.status_code == 400
    assert "duplicate" in reply.json()["message"]


def test_login_logout(tt, admin):
    fresh = Tracker(tt.base)
    assert fresh.get("/account").json() == {"ok": False, "content": {"logged_in": False}}
    bad = fresh.post("/login", {"username": "alice", "password": "wrong password"})
    assert (bad.status_code, bad.json()["message"]) == (403, "Invalid username/password")
    good = fresh.post("/login", {"username": "alice", "password": "correct horse"})
    assert good.json()["content"]["manager"]["username"] == "alice"
    assert fresh.get("/account").json()["content"]["logged_in"] is True
    assert fresh.get("/logout").status_code == 204
    assert fresh.get("/account").json()["content"]["logged_in"] is False


def test_manager_list_needs_a_session(tt, admin, user):
    assert tt.get("/manager/list").status_code == 401
    names = [m["username"] for m in user.get("/manager/list").json()["content"]["managers"]]
    assert names == ["alice", "bob"]


def test_promote_demote(admin, user):
    bob = user.get("/account").json()["content"]["manager"]["id"]
    alice = admin.get("/account").json()["content"]["manager"]["id"]
    assert user.get(f"/manager/promote/{bob}").status_code == 403
    assert admin.get(f"/manager/demote/{alice}").status_code == 403
    assert admin.get(f"/manager/promote/{bob}").status_code == 204
    assert user.get("/account").json()["content"]["manager"]["tracker_admin"] is True
    assert admin.get(f"/manager/demote/{bob}").status_code == 204
    assert user.get("/account").json()["content"]["manager"]["tracker_admin"] is False


def test_project_roles(tt, admin, user):
    pid = make_project(admin, "p")
    bob = user.get("/account").json()["content"]["manager"]["id"]
    reply = user.post(f"/manager/set_role_for_project/{pid}", {"manager": bob, "role": 31})
    assert reply.status_code == 403
    admin.post(f"/manager/set_role_for_project/{pid}", {"manager": bob, "role": 4})
    roles = admin.get(f"/manager/list_for_project/{pid}").json()["content"]["managers"]
    assert {(r["manager"]["username"], r["role"]) for r in roles} == {("alice", 31), ("bob", 4)}
    admin.post(f"/manager/set_role_for_project/{pid}", {"manager": bob, "role": 0})
    roles = admin.get(f"/manager/list_for_project/{pid}").json()["content"]["managers"]
    assert [r["manager"]["username"] for r in roles] == ["alice"]


def test_registration_can_be_closed(tt, monkeypatch, admin):
    # The live server runs in this process, so the setting can be flipped here.
    from domain.tracker import conf

    monkeypatch.setattr(conf, "REGISTRATION_OPEN", False)
    carol = Tracker(tt.base)
    reply = carol.post("/register", {"username": "carol", "password": "correct horse"})
    assert (reply.status_code, reply.json()) == (
        403,
        {"ok": False, "message": "Registration is closed"},
    )
    assert carol.get("/account").json() == {"ok": False, "content": {"logged_in": False}}
    login = carol.post("/login", {"username": "carol", "password": "correct horse"})
    assert login.status_code == 403

    monkeypatch.setattr(conf, "REGISTRATION_OPEN", True)
    carol = make_manager(tt, "carol")
    account = carol.get("/account").json()["content"]
    assert (account["logged_in"], account["manager"]["username"]) == (True, "carol")
    assert account["manager"]["tracker_admin"] is False
