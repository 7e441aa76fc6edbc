"""/project/*: spec §5 Projects — create, update, get, list, hidden, secrets, roles, maintenance."""

from __future__ import annotations

import pytest

from domain.tracker.models import Task
from tests.api.tracker.conftest import grant, make_manager, make_project, make_worker, submit

pytestmark = pytest.mark.django_db(transaction=True)

BASE = {
    "name": "p",
    "clone_url": "http://github.com/test/test",
    "git_repo": "myrepo",
    "version": "1.0",
    "priority": 999,
    "motd": "motd",
    "public": True,
    "hidden": False,
    "chain": 0,
    "assign_rate": 2,
    "submit_rate": 2,
}


def test_create_get_project(tt, admin):
    reply = admin.post("/project/create", BASE)
    pid = reply.json()["content"]["id"]
    got = tt.get(f"/project/get/{pid}").json()
    assert got == {"ok": True, "content": {"project": {**BASE, "id": pid, "paused": False}}}


INVALID_PROJECT = {"ok": False, "message": "Invalid project"}
# Positive rates too slow for the Redis bucket (1e-300 overflowed its TTL into a 500).
TINY_RATES = [1e-300, 5e-324, 9.99e-7]


def test_create_project_invalid(tt, admin):
    for bad in ({**BASE, "name": ""}, {**BASE, "priority": -1}, {**BASE, "hidden": True}):
        reply = admin.post("/project/create", bad)
        assert (reply.status_code, reply.json()) == (400, INVALID_PROJECT)
    # The original judges the fields before the session.
    reply = tt.post("/project/create", {**BASE, "name": ""})
    assert (reply.status_code, reply.json()) == (400, INVALID_PROJECT)


@pytest.mark.parametrize("rate", TINY_RATES)
@pytest.mark.parametrize("field", ["assign_rate", "submit_rate"])
def test_create_refuses_a_rate_too_slow_to_limit(admin, field, rate):
    reply = admin.post("/project/create", {**BASE, field: rate})
    assert (reply.status_code, reply.json()) == (400, INVALID_PROJECT)


@pytest.mark.parametrize("field", ["assign_rate", "submit_rate"])
def test_update_refuses_a_rate_too_slow_to_limit(admin, field):
    pid = make_project(admin, "slow")
    for rate in TINY_RATES:
        reply = admin.post(f"/project/update/{pid}", {**BASE, field: rate})
        assert (reply.status_code, reply.json()) == (400, INVALID_PROJECT)
    # The slowest rate a project may have: one event per million seconds.
    assert admin.post(f"/project/update/{pid}", {**BASE, field: 1e-6}).json() == {"ok": True}


def test_create_duplicate_project_name(admin):
    make_project(admin, "same")
    reply = admin.post("/project/create", {**BASE, "name": "same"})
    # The original's 500 for this is a 400 here: bad input never gets a 500.
    assert reply.status_code == 400
    assert "duplicate key" in reply.json()["message"]


def test_get_project_not_found(tt):
    reply = tt.get("/project/get/99999999")
    assert (reply.status_code, reply.json()) == (404, {"ok": False, "message": "Project not found"})


def test_update_project_valid_zero_rate_reads_back_infinite(tt, admin):
    pid = make_project(admin, "before")
    body = {**BASE, "name": "after", "submit_rate": 0, "public": False, "motd": "new"}
    assert admin.post(f"/project/update/{pid}", body).json() == {"ok": True}
    project = tt.get(f"/project/get/{pid}").json()["content"]["project"]
    assert (project["name"], project["motd"]) == ("after", "new")
    assert project["submit_rate"] == 1.7976931348623157e308
    assert project["assign_rate"] == 2


def test_update_project_invalid_and_constraint_fail(admin):
    pid = make_project(admin, "one")
    make_project(admin, "two")
    reply = admin.post(f"/project/update/{pid}", {**BASE, "priority": -1})
    assert (reply.status_code, reply.json()) == (400, INVALID_PROJECT)
    reply = admin.post(f"/project/update/{pid}", {**BASE, "name": "two"})
    assert reply.json()["ok"] is False
    reply = admin.post(f"/project/update/{pid}", {**BASE, "chain": pid})
    assert (reply.status_code, reply.json()) == (400, INVALID_PROJECT)


def test_update_needs_edit(admin, user):
    pid = make_project(admin, "alices")
    reply = user.post(f"/project/update/{pid}", {**BASE, "name": "stolen"})
    assert reply.status_code == 403


def test_not_logged_project_create(tt):
    reply = tt.post("/project/create", {**BASE, "public": False})
    assert reply.status_code == 400
    assert reply.json() == {
        "ok": False,
        "message": "You are not permitted to create a project with this configuration",
    }


def test_user_can_create_private_project_but_not_public(user):
    assert user.post("/project/create", {**BASE, "public": False}).status_code == 200
    assert user.post("/project/create", {**BASE, "name": "pub"}).status_code == 400


def test_task_chain_create_and_update_require_edit_on_the_target(admin, user):
    target = make_project(admin, "alices target")
    reply = user.post("/project/create", {**BASE, "public": False, "chain": target})
    assert reply.status_code == 400
    mine = make_project(user, "bobs")
    reply = user.post(f"/project/update/{mine}", {**BASE, "public": False, "chain": target})
    assert reply.status_code == 403


def test_hidden_projects_in_list_and_get(tt, admin, user):
    make_project(admin, "b-private")
    make_project(admin, "a-public", public=True)
    hidden = make_project(admin, "c-hidden", hidden=True)
    names = [p["name"] for p in tt.get("/project/list").json()["content"]["projects"]]
    assert names == ["a-public", "b-private"]
    assert [p["name"] for p in admin.get("/project/list").json()["content"]["projects"]] == [
        "a-public",
        "b-private",
        "c-hidden",
    ]
    assert len(user.get("/project/list").json()["content"]["projects"]) == 2
    assert tt.get(f"/project/get/{hidden}").status_code == 403
    assert admin.get(f"/project/get/{hidden}").status_code == 200
    admin_id = admin.get("/account").json()["content"]["manager"]["id"]
    user_id = user.get("/account").json()["content"]["manager"]["id"]
    assert admin_id != user_id
    reply = admin.post(f"/manager/set_role_for_project/{hidden}", {"manager": user_id, "role": 1})
    assert reply.json() == {"ok": True}
    assert user.get(f"/project/get/{hidden}").status_code == 200
    assert len(user.get("/project/list").json()["content"]["projects"]) == 3


def test_request_access_twice_or_unknown_project(tt, admin):
    pid = make_project(admin, "p")
    worker = make_worker(tt)
    assert worker.post("/project/request_access", {"assign": True, "project": pid}).json()["ok"]
    again = worker.post("/project/request_access", {"assign": True, "project": pid})
    assert again.status_code == 400
    assert again.json()["message"].startswith("Project is public, you already have")
    unknown = worker.post("/project/request_access", {"assign": True, "project": 99999999})
    assert unknown.status_code == 400


def test_require_manage_access_role(tt, admin, user):
    pid = make_project(admin, "p")
    worker = make_worker(tt)
    worker.post("/project/request_access", {"assign": True, "project": pid})
    assert user.post(f"/project/accept_request/{pid}/{worker.worker_id}").status_code == 403
    # QUIRK fix: rejecting needs MANAGE_ACCESS too.
    assert user.post(f"/project/reject_request/{pid}/{worker.worker_id}").status_code == 403
    assert tt.post(f"/project/reject_request/{pid}/{worker.worker_id}").status_code == 403
    assert user.get(f"/project/access_list/{pid}").status_code == 403
    accesses = admin.get(f"/project/access_list/{pid}").json()["content"]["accesses"]
    assert accesses == [
        {
            "submit": False,
            "assign": True,
            "request": True,
            "worker": tt.get(f"/worker/get/{worker.worker_id}").json()["content"]["worker"],
            "project": pid,
        }
    ]


def test_accept_without_a_request(tt, admin):
    pid = make_project(admin, "p")
    worker = make_worker(tt)
    reply = admin.post(f"/project/accept_request/{pid}/{worker.worker_id}")
    assert reply.json() == {"ok": False, "message": "Worker did not have access to this project"}


def test_project_secret_needs_approved_assign_access(tt, admin):
    pid = make_project(admin, "p")
    assert admin.post(f"/project/secret/{pid}", {"secret": "s3cr3t"}).json() == {"ok": True}
    worker = make_worker(tt)
    worker.post("/project/request_access", {"assign": True, "project": pid})
    # QUIRK fix: a pending request does not unlock the secret.
    assert worker.get(f"/project/secret/{pid}").status_code == 403
    admin.post(f"/project/accept_request/{pid}/{worker.worker_id}")
    assert worker.get(f"/project/secret/{pid}").json() == {
        "ok": True,
        "content": {"secret": "s3cr3t"},
    }
    assert tt.get(f"/project/secret/{pid}").status_code == 403
    assert admin.get(f"/project/secret/{pid}").json()["content"]["secret"] == "s3cr3t"


def test_webhook_secret_get_set_and_role(admin, user):
    pid = make_project(admin, "p")
    initial = admin.get(f"/project/webhook_secret/{pid}").json()["content"]["webhook_secret"]
    assert len(initial) == 36
    reply = admin.post(f"/project/webhook_secret/{pid}", {"webhook_secret": "new"})
    assert reply.json() == {"ok": True}
    assert admin.get(f"/project/webhook_secret/{pid}").json()["content"]["webhook_secret"] == "new"
    assert user.get(f"/project/webhook_secret/{pid}").status_code == 403
    assert user.post(f"/project/webhook_secret/{pid}", {"webhook_secret": "x"}).status_code == 403


def test_assignees(setup):
    for i in range(3):
        submit(setup.worker, setup.project, recipe=str(i))
    setup.worker.get(f"/task/get/{setup.project}")
    assignees = setup.worker.get(f"/project/assignees/{setup.project}").json()["content"]
    assert assignees["assignees"] == [
        {"assignee": "drone", "task_count": 1},
        {"assignee": "unassigned", "task_count": 2},
    ]


def test_assignees_are_grouped_by_worker_not_alias(tt, setup):
    # Two workers created without an alias both get "default_alias": still two rows.
    first, second = make_worker(tt, ""), make_worker(tt, "")
    for worker in (first, second):
        grant(setup.admin, worker, setup.project)
    for i in range(4):
        submit(setup.worker, setup.project, recipe=str(i))
    for worker in (first, second, second):
        assert worker.get(f"/task/get/{setup.project}").json()["ok"] is True
    assignees = tt.get(f"/project/assignees/{setup.project}").json()["content"]["assignees"]
    assert assignees == [
        {"assignee": "default_alias", "task_count": 1},
        {"assignee": "unassigned", "task_count": 1},
        {"assignee": "default_alias", "task_count": 2},
    ]


def test_maintenance_endpoints(tt, setup):
    for i in range(3):
        submit(setup.worker, setup.project, recipe=str(i), max_retries=0)
    task = setup.worker.get(f"/task/get/{setup.project}").json()["content"]["task"]
    setup.worker.post("/task/release", {"task_id": task["id"], "result": 1})
    setup.worker.get(f"/task/get/{setup.project}")
    path = "/project/{}/" + str(setup.project)
    stranger = make_manager(tt, "mallory")
    assert stranger.post(path.format("hard_reset")).status_code == 403
    reply = setup.admin.post(path.format("reset_failed_tasks"))
    assert reply.json() == {"ok": True, "content": {"affected_tasks": 1}}
    reply = setup.admin.post(path.format("reclaim_assigned_tasks"))
    assert reply.json() == {"ok": True, "content": {"affected_tasks": 1}}
    reply = setup.admin.post(path.format("hard_reset"))
    assert reply.json() == {"ok": True, "content": {"affected_tasks": 3}}
    assert not Task.objects.exists()


def test_monitoring_snapshots(setup):
    from domain.tracker.monitoring import snapshots_take

    submit(setup.worker, setup.project)
    snapshots_take(now=1000)
    snapshots_take(now=2000)
    reply = setup.worker.get(f"/project/monitoring/{setup.project}?count=10").json()
    snaps = reply["content"]["snapshots"]
    assert [s["time_stamp"] for s in snaps] == [2000, 1000]
    assert snaps[0]["new_task_count"] == 1
    assert snaps[0]["worker_access_count"] == 1
    between = setup.worker.get(
        f"/project/monitoring-between/{setup.project}?from=1000&to=1500"
    ).json()["content"]["snapshots"]
    assert [s["time_stamp"] for s in between] == [1000]
    for bad in ("?count=0", "?count=1000", "?count=x", ""):
        reply = setup.worker.get(f"/project/monitoring/{setup.project}{bad}")
        assert (reply.status_code, reply.json()["message"]) == (400, "Invalid request")


def test_access_grant_helper_gives_both_roles(tt, admin):
    pid = make_project(admin, "p")
    worker = make_worker(tt)
    grant(admin, worker, pid)
    assert submit(worker, pid).json() == {"ok": True}
