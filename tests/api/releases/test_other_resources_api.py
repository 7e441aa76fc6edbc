"""/tasks, /task-services, /release-notes, /events, /studies/sync over the Django test client."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from domain.common.models import ApiToken
from domain.common.tokens import token_authenticate
from domain.releases import services, task_services
from domain.releases.models import Event, Release, ReleaseNote, Study, Task, TaskService
from orchestrator.clients.task_service import NOT_ANSWERED
from tests.api.releases.conftest import Api
from tests.support.dataservice import DataserviceStandIn
from tests.support.task_service import TaskServiceStandIn

pytestmark = pytest.mark.django_db

TASK_FIELDS = {
    "kf_id", "state", "progress", "release", "task_service", "created_at", "service_name"
}  # fmt: skip
SERVICE_FIELDS = {
    "kf_id", "name", "description", "last_ok_status", "author", "health_status", "url",
    "created_at", "enabled",
}  # fmt: skip


@pytest.fixture
def status_ok():
    svc = TaskServiceStandIn(mode="manual", name="test")
    yield svc
    svc.stop()


@pytest.fixture
def release(studies):
    return services.release_create(name="R", studies=["SD_00000001"])


@pytest.fixture
def service(dev_token):
    # Registered by the `dev` client's token, which may therefore change and delete it.
    registrant = task_services.caller_key(caller=token_authenticate(plaintext=dev_token))
    svc, issued = task_services.task_service_create(
        name="S", url="http://ts.example", author="jon", registered_by=registrant
    )
    svc.inbound = issued.plaintext
    return svc


@pytest.fixture
def running_task(release, service):
    """A task in `running`, as after initialize and start."""
    services.release_prepare(release_id=release.kf_id)
    task = Task.objects.get(release=release)
    services.task_mark_initialized(task_id=task.kf_id)
    services.release_start(release_id=release.kf_id)
    services.tasks_acknowledge(task_ids=[task.kf_id], action="start")
    return task


# --- task services -------------------------------------------------------------------------------


def test_register_checks_the_status_endpoint_and_returns_an_inbound_token(dev, status_ok, anon):
    body = {"name": "ETL", "description": "d", "author": "jon", "url": status_ok.url}
    resp = dev.post("/task-services", {**body, "outbound_token": "s3cret"})
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert set(data) == SERVICE_FIELDS | {"inbound_token"}
    assert data["kf_id"].startswith("TS_") and data["health_status"] == "ok"
    assert data["author"] == "jon" and data["enabled"] is True
    token = ApiToken.objects.get(subject=f"task-service:{data['kf_id']}")
    assert token.role == "service"
    assert "Authorization" not in status_ok.calls[0].headers
    assert TaskService.objects.get(pk=data["kf_id"]).outbound_token == "s3cret"
    listed = anon.get("/task-services").json()["results"][0]
    assert set(listed) == SERVICE_FIELDS
    assert "s3cret" not in json.dumps(anon.get(f"/task-services/{data['kf_id']}").json())


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("scheme", "Enter a valid URL."),
        ("httpx", "Enter a valid URL."),
        ("no host", "Enter a valid URL."),
        ("bad port", "Enter a valid URL."),
        ("refused", NOT_ANSWERED),
        ("500", NOT_ANSWERED),
        ("noname", NOT_ANSWERED),
    ],
)
def test_registration_url_check_failures(dev, status_ok, failure, message):
    url = status_ok.url
    if failure == "scheme":
        url = "ftp://example.org"
    elif failure == "httpx":
        # Starts with `http`, which was all the original (and the first port) checked.
        url = status_ok.url.replace("http://", "httpx://")
    elif failure == "no host":
        url = "http:///status"
    elif failure == "bad port":
        url = "http://127.0.0.1:port"
    elif failure == "refused":
        status_ok.stop()
    elif failure == "500":
        status_ok.fail["status"] = "500"
    else:
        status_ok.name = "x"  # a body without the word the check wants

        def no_name(handler):
            status_ok._reply(handler, 200, {"ok": True})

        status_ok._status = no_name
    resp = dev.post("/task-services", {"name": "S", "author": "a", "url": url})
    assert resp.status_code == 400
    assert message in resp.json()["url"][0]
    if message == "Enter a valid URL.":
        assert resp.json() == {"url": [message]}
        assert not status_ok.calls  # refused before any request
    assert not TaskService.objects.exists()


def test_an_https_url_with_a_host_passes_the_syntax_check(dev, service):
    # No service listens there, so the check gets as far as trying to reach it.
    resp = dev.patch(f"/task-services/{service.kf_id}", {"url": "https://127.0.0.1:1"})
    assert resp.status_code == 400
    assert resp.json()["url"] == [NOT_ANSWERED]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "S", "url": "http://x"},
        {"name": "S", "author": "a"},
        {"name": "x" * 101, "author": "a", "url": "http://x"},
        {"name": "S", "author": "a", "url": "http://x", "enabled": "sometimes"},
        {"name": "S", "author": "a", "url": "http://x" + "x" * 200},
    ],
)
def test_bad_service_bodies_get_400(dev, body):
    resp = dev.post("/task-services", body)
    assert resp.status_code == 400
    assert not TaskService.objects.exists()


def test_service_updates_filters_and_delete(dev, user, anon, service, status_ok):
    kf_id = service.kf_id
    assert dev.patch(f"/task-services/{kf_id}", {"enabled": False}).json()["enabled"] is False
    assert [s["kf_id"] for s in anon.get("/task-services", enabled="False").json()["results"]] == [
        kf_id
    ]
    assert anon.get("/task-services", enabled="True").json()["count"] == 0
    assert anon.get("/task-services", enabled="maybe").status_code == 400
    resp = dev.patch(f"/task-services/{kf_id}", {"url": "gopher://x"})
    assert resp.status_code == 400 and resp.json() == {"url": ["Enter a valid URL."]}
    assert dev.patch(f"/task-services/{kf_id}", {"url": status_ok.url}).status_code == 200
    assert dev.patch(f"/task-services/{kf_id}", {"name": None}).status_code == 400
    assert dev.patch(f"/task-services/{kf_id}", {"enabled": "x"}).status_code == 400
    resp = user.patch(f"/task-services/{kf_id}", {"name": "x"})
    assert resp.status_code == 403 and resp.json() == {"detail": "Must be a developer"}
    assert anon.delete(f"/task-services/{kf_id}").status_code == 403
    assert dev.delete(f"/task-services/{kf_id}").status_code == 204
    assert not TaskService.objects.exists()
    assert ApiToken.objects.get(subject=f"task-service:{kf_id}").revoked_at is not None
    assert dev.delete(f"/task-services/{kf_id}").status_code == 404


def test_health_checks_trigger_needs_admin_or_service(anon, dev, service):
    assert anon.post("/task-services/health_checks").status_code == 403
    assert dev.post("/task-services/health_checks").status_code == 403


def test_a_service_token_may_fire_the_status_check_triggers(running_task, service):
    resp = Api(service.inbound).post("/tasks/status_checks")
    assert resp.status_code == 200
    assert resp.json()["message"] == "1 task to check"
    assert Api(service.inbound).post("/releases/status_checks").status_code == 200


# --- tasks ---------------------------------------------------------------------------------------


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
    assert anon.patch(f"/tasks/{running_task.kf_id}", {"progress": 5}).status_code == 403
    resp = user.patch(f"/tasks/{running_task.kf_id}", {"progress": 5})
    assert resp.status_code == 403 and resp.json() == {"detail": "Must be an admin"}
    assert (
        user.post("/tasks", {"release": release.kf_id, "task_service": service.kf_id}).status_code
        == 403
    )
    assert anon.post("/tasks/status_checks").status_code == 403


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


# --- release notes -------------------------------------------------------------------------------


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


# --- events --------------------------------------------------------------------------------------


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
    assert anon.post("/events", {"message": "x"}).status_code == 403
    assert user.delete(f"/events/{event['kf_id']}").status_code == 403
    assert admin.delete(f"/events/{event['kf_id']}").status_code == 204
    assert admin.get(f"/events/{event['kf_id']}").status_code == 404


# --- studies -------------------------------------------------------------------------------------


def test_sync_reads_every_page_and_flags_missing_studies(admin, monkeypatch, db):
    Study.objects.create(kf_id="SD_GONE0000", name="gone")
    Study.objects.create(kf_id="SD_00000000", name="old name")
    rows = [{"kf_id": f"SD_{i:08d}", "name": f"S{i}", "visible": i % 2 == 0} for i in range(250)]
    ds = DataserviceStandIn(rows, page_size=100)
    monkeypatch.setenv("DATASERVICE_URL", ds.url)
    try:
        resp = admin.post("/studies/sync")
    finally:
        ds.stop()
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok",
        "message": "Synchronized with dataservice",
        "new": 249,
        "deleted": 1,
    }
    assert len(ds.requests) == 3
    assert Study.objects.filter(deleted=False).count() == 250
    assert Study.objects.get(kf_id="SD_00000000").name == "S0"
    assert Study.objects.get(kf_id="SD_GONE0000").deleted is True
    assert Study.objects.get(kf_id="SD_00000001").visible is False


def test_sync_reports_a_dataservice_error(admin, user, monkeypatch, db):
    ds = DataserviceStandIn([], status=503)
    monkeypatch.setenv("DATASERVICE_URL", ds.url)
    try:
        resp = admin.post("/studies/sync")
    finally:
        ds.stop()
    assert resp.status_code == 503
    assert resp.json()["status"] == "error"
    assert user.post("/studies/sync").status_code == 403


def test_import_studies_command(tmp_path, db):
    path = tmp_path / "studies.json"
    path.write_text(json.dumps([{"kf_id": "SD_ABCDEFGH", "name": "A", "visible": False}]))
    call_command("import_studies", str(path))
    assert Study.objects.get(pk="SD_ABCDEFGH").visible is False
    path.write_text(json.dumps([{"kf_id": "bad"}]))
    with pytest.raises(CommandError):
        call_command("import_studies", str(path))


def test_sync_skips_or_coerces_rows_it_cannot_store(admin, monkeypatch, db):
    Study.objects.create(kf_id="SD_KEPT0000", name="kept", visible=True)
    rows = [
        {"kf_id": "SD_TOOLONG0000", "name": "id longer than 11 characters"},
        {"kf_id": "SD_\u0000BAD000", "name": "NUL in the id"},
        {"kf_id": 12345678, "name": "an id that is no string"},
        {"kf_id": "SD_LONGNAME", "name": "n" * 300, "visible": "false"},
        {"kf_id": "SD_BADDATE0", "name": "a\u0000b", "created_at": "last tuesday"},
        {"kf_id": "SD_DATED000", "name": "dated", "created_at": "2018-05-01T12:00:00+00:00"},
        {"kf_id": "SD_KEPT0000", "name": "kept", "visible": "maybe"},
        {"kf_id": "SD_NUMVIS00", "name": "numbers", "visible": 0},
    ]
    ds = DataserviceStandIn(rows)
    monkeypatch.setenv("DATASERVICE_URL", ds.url)
    try:
        resp = admin.post("/studies/sync")
    finally:
        ds.stop()
    assert resp.status_code == 200, resp.content
    assert resp.json()["new"] == 4 and resp.json()["deleted"] == 0
    assert sorted(Study.objects.values_list("kf_id", flat=True)) == [
        "SD_BADDATE0", "SD_DATED000", "SD_KEPT0000", "SD_LONGNAME", "SD_NUMVIS00",
    ]  # fmt: skip
    long_name = Study.objects.get(pk="SD_LONGNAME")
    assert long_name.name == "n" * 256
    assert long_name.visible is False  # the string "false" is false, not truthy
    assert Study.objects.get(pk="SD_BADDATE0").name == "ab"
    assert Study.objects.get(pk="SD_BADDATE0").created_at is not None
    assert Study.objects.get(pk="SD_DATED000").created_at.isoformat() == "2018-05-01T12:00:00+00:00"
    assert Study.objects.get(pk="SD_KEPT0000").visible is True  # "maybe" changes nothing
    assert Study.objects.get(pk="SD_NUMVIS00").visible is False


def test_import_studies_stores_long_names_safely(tmp_path, db):
    path = tmp_path / "studies.json"
    path.write_text(json.dumps([{"kf_id": "SD_ABCDEFGH", "name": "x" * 400}]))
    call_command("import_studies", str(path))
    assert Study.objects.get(pk="SD_ABCDEFGH").name == "x" * 256
