"""/tasks over the Django test client: fields, filters, links, state changes by services and
admins, and creation."""

from __future__ import annotations

import pytest

from domain.releases import services, task_services
from domain.releases.models import Event, Release, Task
from tests.support.api_client import Api

pytestmark = pytest.mark.django_db

TASK_FIELDS = {
    "kf_id", "state", "progress", "release", "task_service", "created_at", "service_name"
}  # fmt: skip


def test_task_fields_filters_and_links(anon, running_task, release, service):
    body = anon.get(f"/tasks/{running_task.kf_id}").json()
    assert set(body) == TASK_FIELDS
    assert body["release"] == f"http://testserver/releases/{release.kf_id}"
    assert body["task_service"] == f"http://testserver/task-services/{service.kf_id}"
    assert body["service_name"] == "S"
    page = anon.get("/tasks", release=release.kf_id, task_service=service.kf_id).json()
    assert [t["kf_id"] for t in page["results"]] == [running_task.kf_id]
    assert anon.get("/tasks", state="staged").json()["count"] == 0
    resp = anon.get("/tasks", release="RE_00000000")
    assert resp.status_code == 400 and "release" in resp.json()
    resp = anon.get("/tasks", task_service="nope")
    assert resp.status_code == 400 and "task_service" in resp.json()
    assert anon.delete(f"/tasks/{running_task.kf_id}").status_code == 405


def test_service_token_patches_only_its_own_tasks(running_task, service, release):
    own = Api(service.inbound)
    resp = own.patch(f"/tasks/{running_task.kf_id}", {"progress": "50%"})
    assert resp.status_code == 200 and resp.json()["progress"] == 50
    _, other = task_services.task_service_create(name="O", url="http://o.example", author="x")
    resp = Api(other.plaintext).patch(f"/tasks/{running_task.kf_id}", {"state": "staged"})
    assert resp.status_code == 403
    assert Task.objects.get(pk=running_task.kf_id).state == "running"
    # A service token is no admin: it may not create tasks or touch releases.
    assert (
        own.post("/tasks", {"release": release.kf_id, "task_service": service.kf_id}).status_code
        == 403
    )


def test_task_state_changes_follow_the_state_machine(admin, running_task, release):
    path = f"/tasks/{running_task.kf_id}"
    resp = admin.patch(path, {"state": "published"})
    assert resp.status_code == 400
    assert resp.json() == {"detail": "task may not change from running to published"}
    count = Event.objects.count()
    assert admin.patch(path, {"state": "running"}).status_code == 200  # repeat: a no-op
    assert Event.objects.count() == count
    assert admin.patch(path, {"state": "staged", "progress": 100}).status_code == 200
    assert Event.objects.filter(
        message=f"task {running_task.kf_id} changed from running to staged"
    ).exists()
    assert admin.get(f"/releases/{release.kf_id}").json()["state"] == "staged"


@pytest.fixture
def initializing_task(release, service):
    """A task whose service has not answered initialize yet: the release is initializing."""
    services.release_prepare(release_id=release.kf_id)
    return Task.objects.get(release=release)


def test_a_service_may_not_start_its_own_task(service, initializing_task, release):
    services.task_mark_initialized(task_id=initializing_task.kf_id)
    before = Event.objects.count()
    resp = Api(service.inbound).patch(f"/tasks/{initializing_task.kf_id}", {"state": "running"})
    assert resp.status_code == 400
    assert resp.json() == {"detail": "task may not change from initialized to running"}
    assert Task.objects.get(pk=initializing_task.kf_id).state == "initialized"
    assert Release.objects.get(pk=release.kf_id).state == "initializing"
    assert Event.objects.count() == before


def test_a_service_may_not_move_its_task_to_publishing(service, studies):
    other, _ = task_services.task_service_create(name="T", url="http://t.example", author="jon")
    kf_id = services.release_create(name="R", studies=["SD_00000001"]).kf_id
    services.release_prepare(release_id=kf_id)
    ids = list(Task.objects.filter(release_id=kf_id).values_list("kf_id", flat=True))
    for tid in ids:
        services.task_mark_initialized(task_id=tid)
    services.release_start(release_id=kf_id)
    staged = Task.objects.get(release_id=kf_id, task_service=service)
    own = Api(service.inbound)
    assert own.patch(f"/tasks/{staged.kf_id}", {"state": "staged"}).status_code == 200
    resp = own.patch(f"/tasks/{staged.kf_id}", {"state": "publishing"})
    assert resp.status_code == 400
    assert resp.json() == {"detail": "task may not change from staged to publishing"}
    assert Task.objects.get(pk=staged.kf_id).state == "staged"
    assert Release.objects.get(pk=kf_id).state == "running"


@pytest.mark.parametrize(
    ("state", "current"),
    [("waiting", "running"), ("running", "running"), ("publishing", "publishing")],
)
def test_a_repeated_state_is_a_no_op_and_coordinator_states_are_refused(
    admin, running_task, state, current
):
    if current == "publishing":
        Task.objects.filter(pk=running_task.kf_id).update(state="publishing")
    before = Event.objects.count()
    resp = admin.patch(f"/tasks/{running_task.kf_id}", {"state": state})
    if state == current:
        assert resp.status_code == 200
    else:
        assert resp.status_code == 400
        assert resp.json() == {"detail": f"task may not change from {current} to {state}"}
    assert Task.objects.get(pk=running_task.kf_id).state == current
    assert Event.objects.count() == before


def test_a_rejected_report_fails_the_release_through_the_cancel_path(
    initializing_task, release, service
):
    resp = Api(service.inbound).patch(f"/tasks/{initializing_task.kf_id}", {"state": "rejected"})
    assert resp.status_code == 200 and resp.json()["state"] == "rejected"
    stored = Release.objects.get(pk=release.kf_id)
    assert (stored.state, stored.cancel_outcome) == ("canceling", "failed")
    # The cancel step (a Celery canvas after commit) ends the release; run its last step here.
    services.release_cancel_finish(release_id=release.kf_id)
    assert Release.objects.get(pk=release.kf_id).state == "failed"
    rejected = Event.objects.get(
        message=f"task {initializing_task.kf_id} changed from waiting to rejected"
    )
    assert rejected.event_type == "error"


def test_pending_from_a_waiting_task_means_initialized(initializing_task, service):
    resp = Api(service.inbound).patch(f"/tasks/{initializing_task.kf_id}", {"state": "pending"})
    assert resp.status_code == 200 and resp.json()["state"] == "initialized"
    assert Event.objects.filter(
        message=f"task {initializing_task.kf_id} changed from waiting to initialized"
    ).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"state": "bogus"},
        {"state": None},
        {"state": 5},
        {"progress": "abc"},
        {"progress": 150},
        {"progress": -1},
        {"progress": [1]},
        {"state": "initialized"},
        {"state": "pending"},
        {"state": "staged", "progress": "lots"},
    ],
)
def test_bad_task_patches_get_400_and_change_nothing(admin, running_task, body):
    before = Event.objects.count()
    resp = admin.patch(f"/tasks/{running_task.kf_id}", body)
    assert resp.status_code == 400, resp.content
    task = Task.objects.get(pk=running_task.kf_id)
    assert (task.state, task.progress) == ("running", 0)
    assert Event.objects.count() == before


def test_task_writes_need_admin(anon, user, running_task, release, service):
    assert anon.patch(f"/tasks/{running_task.kf_id}", {"progress": 5}).status_code == 401
    resp = user.patch(f"/tasks/{running_task.kf_id}", {"progress": 5})
    assert resp.status_code == 403 and resp.json() == {"detail": "Must be an admin"}
    assert (
        user.post("/tasks", {"release": release.kf_id, "task_service": service.kf_id}).status_code
        == 403
    )
    assert anon.post("/tasks/status_checks").status_code == 401


def test_create_task_accepts_urls_or_ids_and_rejects_bad_refs(admin, release, service):
    body = {
        "release": f"http://testserver/releases/{release.kf_id}",
        "task_service": service.kf_id,
        "state": "pending",
    }
    resp = admin.post("/tasks", body)
    assert resp.status_code == 201 and resp.json()["state"] == "initialized"
    kf_id = resp.json()["kf_id"]
    # Created waiting, then moved through the state machine: the move has its event.
    assert Event.objects.filter(
        message=f"task {kf_id} changed from waiting to initialized"
    ).exists()
    for bad in (
        {"release": "http://x/releases/nope", "task_service": service.kf_id},
        {"release": "RE_00000000", "task_service": service.kf_id},
        {"release": release.kf_id},
        {"release": release.kf_id, "task_service": service.kf_id, "state": "weird"},
        {"release": release.kf_id, "task_service": service.kf_id, "progress": "x"},
    ):
        assert admin.post("/tasks", bad).status_code == 400, bad
    assert Task.objects.count() == 1


@pytest.mark.parametrize("state", ["running", "staged", "publishing", "published"])
def test_create_task_refuses_a_state_the_machine_cannot_reach_from_waiting(
    admin, release, service, state
):
    body = {"release": release.kf_id, "task_service": service.kf_id, "state": state}
    resp = admin.post("/tasks", body)
    assert resp.status_code == 400
    assert resp.json() == {"detail": f"task may not change from waiting to {state}"}
    assert not Task.objects.exists()
    assert not Event.objects.filter(task__isnull=False).exists()


def test_create_task_in_failed_fails_its_release(admin, release, service):
    body = {"release": release.kf_id, "task_service": service.kf_id, "state": "failed"}
    resp = admin.post("/tasks", body)
    assert resp.status_code == 201 and resp.json()["state"] == "failed"
    stored = Release.objects.get(pk=release.kf_id)
    assert (stored.state, stored.cancel_outcome) == ("canceling", "failed")
