"""/task/*: spec §5 Tasks — submit, assign, release, verification, chains, bulk."""

from __future__ import annotations

import pytest

from domain.tracker.counters import counters_fold, project_closed_count, worker_closed_count
from domain.tracker.models import Project, Task, Worker, WorkerVerifiesTask
from tests.api.tracker.conftest import grant, make_project, make_worker, submit

pytestmark = pytest.mark.django_db(transaction=True)

TASK_KEYS = {
    "id",
    "priority",
    "project",
    "assignee",
    "retries",
    "max_retries",
    "status",
    "recipe",
    "max_assign_time",
    "assign_time",
    "verification_count",
}
PROJECT_KEYS = {
    "id",
    "priority",
    "name",
    "clone_url",
    "git_repo",
    "version",
    "motd",
    "public",
    "hidden",
    "chain",
    "paused",
    "assign_rate",
    "submit_rate",
}


def fetch(worker, project):
    return worker.get(f"/task/get/{project}").json()


def release(worker, task_id, result=0, verification=0):
    return worker.post(
        "/task/release", {"task_id": task_id, "result": result, "verification": verification}
    ).json()


def test_create_task_valid(setup):
    assert submit(setup.worker, setup.project).json() == {"ok": True}


def test_create_task_invalid_project(setup):
    reply = submit(setup.worker, 99999999)
    assert (reply.status_code, reply.json()) == (404, {"ok": False, "message": "Project not found"})


@pytest.mark.parametrize(
    "fields", [{"max_retries": -1}, {"recipe": ""}, {"hash_u64": 5, "unique_string": "x"}]
)
def test_create_task_invalid(setup, fields):
    reply = submit(setup.worker, setup.project, **fields)
    assert (reply.status_code, reply.json()) == (400, {"ok": False, "message": "Invalid task"})


def test_get_task_invalid_project_id(setup):
    for bad in ("-1", "0", "abc"):
        reply = setup.worker.get(f"/task/get/{bad}")
        assert reply.status_code == 400
        assert reply.json() == {"ok": False, "message": "Invalid project id"}
    reply = setup.worker.get("/task/get/99999999")
    assert (reply.status_code, reply.json()["message"]) == (404, "Project not found")


def test_create_get_task_round_trips_every_field(setup):
    submit(
        setup.worker,
        setup.project,
        recipe="test recipe",
        priority=7,
        max_retries=3,
        max_assign_time=3600,
        verification_count=1,
    )
    reply = fetch(setup.worker, setup.project)
    task = reply["content"]["task"]
    assert set(task) == TASK_KEYS
    assert set(task["project"]) == PROJECT_KEYS
    assert task["recipe"] == "test recipe"
    assert (task["priority"], task["max_retries"], task["retries"]) == (7, 3, 0)
    assert (task["max_assign_time"], task["verification_count"], task["status"]) == (3600, 1, 1)
    assert task["assignee"] == setup.worker.worker_id
    assert task["assign_time"] > 0
    project = task["project"]
    assert project["name"] == "generictestproject"
    assert project["chain"] == 0
    assert project["assign_rate"] == 1.7976931348623157e308


def test_task_project_priority(setup):
    submit(setup.worker, setup.project, recipe="low", priority=1)
    submit(setup.worker, setup.project, recipe="high", priority=9)
    submit(setup.worker, setup.project, recipe="mid-first", priority=5)
    submit(setup.worker, setup.project, recipe="mid-second", priority=5)
    order = [fetch(setup.worker, setup.project)["content"]["task"]["recipe"] for _ in range(4)]
    assert order == ["high", "mid-first", "mid-second", "low"]


def test_no_task_available(setup):
    assert fetch(setup.worker, setup.project) == {"ok": False, "message": "No task available"}


def test_task_no_access_after_reject(setup):
    submit(setup.worker, setup.project)
    setup.admin.post(f"/project/reject_request/{setup.project}/{setup.worker.worker_id}")
    assert fetch(setup.worker, setup.project)["ok"] is False


def test_task_has_access_on_a_public_project_without_a_row(tt, admin, setup):
    public = make_project(admin, "public one", public=True)
    grant(admin, setup.worker, public, assign=False, submit=True)
    submit(setup.worker, public)
    stranger = make_worker(tt, "stranger")
    assert fetch(stranger, public)["ok"] is True


def test_release_task_success(setup):
    submit(setup.worker, setup.project)
    task = fetch(setup.worker, setup.project)["content"]["task"]
    assert release(setup.worker, task["id"]) == {"ok": True, "content": {"updated": True}}
    assert fetch(setup.worker, setup.project)["ok"] is False
    assert project_closed_count(project_id=setup.project) == 1
    assert worker_closed_count(worker_id=setup.worker.worker_id) == 1
    assert counters_fold() == 1
    assert Project.objects.get(pk=setup.project).closed_task_count == 1
    assert Worker.objects.get(pk=setup.worker.worker_id).closed_task_count == 1
    assert project_closed_count(project_id=setup.project) == 1


def test_release_of_someone_elses_task_does_nothing(tt, setup):
    submit(setup.worker, setup.project)
    task = fetch(setup.worker, setup.project)["content"]["task"]
    other = make_worker(tt, "other")
    assert release(other, task["id"]) == {
        "ok": True,
        "message": "Task was not marked as closed",
        "content": {"updated": False},
    }
    assert release(setup.worker, 0) == {"ok": False, "message": "Invalid request"}
    assert Task.objects.filter(pk=task["id"]).exists()


def test_create_int_collision(setup):
    assert submit(setup.worker, setup.project, hash_u64=123).json() == {"ok": True}
    reply = submit(setup.worker, setup.project, hash_u64=123)
    assert reply.status_code == 400
    assert reply.json()["ok"] is False
    assert "project_hash_unique" in reply.json()["message"]


def test_create_string_collision(setup):
    assert submit(setup.worker, setup.project, unique_string="Hello, world").json()["ok"]
    assert submit(setup.worker, setup.project, unique_string="Hello, world").json()["ok"] is False
    assert Task.objects.get(project_id=setup.project).hash64 == 8565956259293726066


def test_cannot_verify_same_task_twice(setup):
    submit(setup.worker, setup.project, verification_count=2)
    task = fetch(setup.worker, setup.project)["content"]["task"]
    assert release(setup.worker, task["id"], verification=1)["content"]["updated"] is False
    assert fetch(setup.worker, setup.project) == {"ok": False, "message": "No task available"}


def test_verification2(tt, setup):
    submit(setup.worker, setup.project, verification_count=2)
    results = []
    for verification, name in ((123, "w1"), (1, "w2"), (123, "w3")):
        worker = make_worker(tt, name)
        grant(setup.admin, worker, setup.project, submit=False)
        task = fetch(worker, setup.project)["content"]["task"]
        results.append(release(worker, task["id"], verification=verification)["content"]["updated"])
    assert results == [False, False, True]
    assert not Task.objects.filter(project_id=setup.project).exists()
    assert not WorkerVerifiesTask.objects.exists()


def test_release_task_fail_with_zero_retries_fails_it(setup):
    submit(setup.worker, setup.project, max_retries=0)
    task = fetch(setup.worker, setup.project)["content"]["task"]
    assert release(setup.worker, task["id"], result=1)["content"]["updated"] is True
    stored = Task.objects.get(pk=task["id"])
    assert (stored.status, stored.retries, stored.assignee_id) == (2, 1, None)
    assert fetch(setup.worker, setup.project)["ok"] is False


def test_release_task_fail_retries_until_failed(setup):
    submit(setup.worker, setup.project, max_retries=2)
    for expected_status in (1, 2):
        task = fetch(setup.worker, setup.project)["content"]["task"]
        release(setup.worker, task["id"], result=1)
        assert Task.objects.get(pk=task["id"]).status == expected_status


def test_release_skip_keeps_retries(setup):
    submit(setup.worker, setup.project)
    task = fetch(setup.worker, setup.project)["content"]["task"]
    assert release(setup.worker, task["id"], result=2)["content"]["updated"] is True
    again = fetch(setup.worker, setup.project)["content"]["task"]
    assert (again["id"], again["retries"]) == (task["id"], 0)
    assert release(setup.worker, again["id"], result=7)["content"]["updated"] is False


def test_task_chain_cascades(tt, admin, setup):
    third = make_project(admin, "third")
    second = make_project(admin, "second", chain=third)
    first = make_project(admin, "first", chain=second)
    for project in (first, second, third):
        grant(admin, setup.worker, project)
    submit(setup.worker, first, recipe="chained", priority=4, max_retries=5, verification_count=1)
    for project in (first, second):
        task = fetch(setup.worker, project)["content"]["task"]
        assert release(setup.worker, task["id"])["content"]["updated"] is True
    copy = fetch(setup.worker, third)["content"]["task"]
    assert (copy["recipe"], copy["priority"], copy["max_retries"]) == ("chained", 4, 5)
    assert (copy["verification_count"], copy["status"], copy["retries"]) == (1, 1, 0)


def test_task_chain_causes_conflict(tt, admin, setup):
    target = make_project(admin, "target")
    source = make_project(admin, "source", chain=target)
    grant(admin, setup.worker, target)
    grant(admin, setup.worker, source)
    submit(setup.worker, target, hash_u64=77)
    submit(setup.worker, source, hash_u64=77)
    task = fetch(setup.worker, source)["content"]["task"]
    assert release(setup.worker, task["id"])["content"]["updated"] is True
    assert Task.objects.filter(project_id=target).count() == 1


@pytest.mark.parametrize("verification", [2**63 - 1, -(2**63)])
def test_task_release_big_int(setup, verification):
    submit(setup.worker, setup.project, verification_count=2)
    task = fetch(setup.worker, setup.project)["content"]["task"]
    reply = release(setup.worker, task["id"], verification=verification)
    assert reply["ok"] is True
    assert WorkerVerifiesTask.objects.get().verification_hash == verification


def test_task_submit_unauthorized_with_a_pending_request(tt, admin, setup):
    worker = make_worker(tt, "pending")
    worker.post("/project/request_access", {"submit": True, "project": setup.project})
    reply = submit(worker, setup.project)
    assert (reply.status_code, reply.json()["message"]) == (400, "unauthorized task submit")


def test_task_submit_needs_a_row_even_on_public_projects(tt, admin):
    public = make_project(admin, "pub", public=True)
    worker = make_worker(tt)
    assert submit(worker, public).json() == {"ok": False, "message": "unauthorized task submit"}


def test_task_get_unauthorized_hidden_project_pending_request(tt, admin, setup):
    hidden = make_project(admin, "hidden", hidden=True)
    grant(admin, setup.worker, hidden)
    submit(setup.worker, hidden)
    worker = make_worker(tt, "pending")
    worker.post("/project/request_access", {"assign": True, "project": hidden})
    assert fetch(worker, hidden) == {"ok": False, "message": "No task available"}


def test_task_get_unauthorized_with_cache(setup):
    submit(setup.worker, setup.project)
    submit(setup.worker, setup.project, recipe="second")
    assert fetch(setup.worker, setup.project)["ok"] is True
    setup.admin.post(f"/project/reject_request/{setup.project}/{setup.worker.worker_id}")
    assert fetch(setup.worker, setup.project)["ok"] is False
    assert submit(setup.worker, setup.project).json()["ok"] is False


def test_paused_project_dispatches_nothing(setup):
    submit(setup.worker, setup.project)
    project = fetch(setup.worker, setup.project)["content"]["task"]["project"]
    submit(setup.worker, setup.project, recipe="2")
    reply = setup.admin.post(
        f"/project/update/{setup.project}", {**project, "chain": 0, "paused": True}
    )
    assert reply.json() == {"ok": True}, reply.text
    assert fetch(setup.worker, setup.project) == {"ok": False, "message": "No task available"}


def bulk_item(project, recipe, **fields):
    return {"project": project, "recipe": recipe, "max_retries": 1, **fields}


def test_bulk_task_submit_valid(setup):
    items = [bulk_item(setup.project, f"r{i}", hash_u64=i + 1) for i in range(10)]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.json() == {"ok": True, "content": {"inserted": 10, "duplicates": 0}}
    assert Task.objects.filter(project_id=setup.project).count() == 10


def test_bulk_task_submit_reports_duplicates(setup):
    submit(setup.worker, setup.project, hash_u64=1)
    items = [bulk_item(setup.project, f"r{i}", hash_u64=1 + i % 3) for i in range(6)]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.json() == {"ok": True, "content": {"inserted": 2, "duplicates": 4}}
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.json() == {
        "ok": False,
        "message": "No task was inserted",
        "content": {"inserted": 0, "duplicates": 6},
    }


def test_bulk_recipes_survive_copy_escaping(setup):
    recipe = 'tab\there\nnewline \\N back\\slash "quoted" é'
    setup.worker.post("/task/bulk_submit", {"requests": [bulk_item(setup.project, recipe)]})
    assert fetch(setup.worker, setup.project)["content"]["task"]["recipe"] == recipe


def test_bulk_task_submit_not_the_same_project(admin, setup):
    other = make_project(admin, "other")
    items = [bulk_item(setup.project, "a"), bulk_item(other, "b")]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.status_code == 400
    assert reply.json()["message"] == "All the tasks in a bulk submit must be of the same project"


def test_bulk_task_submit_invalid(setup):
    items = [bulk_item(setup.project, "a"), bulk_item(setup.project, "")]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert (reply.status_code, reply.json()["message"]) == (400, "Invalid request")
    assert not Task.objects.exists()


@pytest.mark.parametrize("body", [{"requests": []}, {}, {"requests": {"project": 1}}])
def test_bulk_task_submit_empty_or_malformed(setup, body):
    reply = setup.worker.post("/task/bulk_submit", body)
    assert (reply.status_code, reply.json()["message"]) == (400, "Could not parse request")


def test_bulk_submit_without_permission_reports_nothing_inserted(tt, admin):
    # Charlie has no access to the private project and a pending request on the public one:
    # a bulk submit says what happened (200, ok false, zero counts) instead of failing.
    locked = make_project(admin, "locked")
    public = make_project(admin, "open", public=True)
    charlie = make_worker(tt, "charlie")
    charlie.post("/project/request_access", {"assign": True, "submit": True, "project": public})
    for project in (locked, public):
        reply = charlie.post("/task/bulk_submit", {"requests": [bulk_item(project, "a")]})
        assert (reply.status_code, reply.json()) == (
            200,
            {
                "ok": False,
                "message": "unauthorized task submit",
                "content": {"inserted": 0, "duplicates": 0},
            },
        )
    assert not Task.objects.exists()
