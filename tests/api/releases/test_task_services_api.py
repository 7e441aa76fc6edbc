"""/task-services over the Django test client: registration and its URL check, updates,
filters, delete, and the status-check triggers."""

from __future__ import annotations

import json

import pytest

from domain.common.models import ApiToken
from domain.releases.models import TaskService
from orchestrator.clients.task_service import NOT_ANSWERED
from tests.support.api_client import Api
from tests.support.task_service import TaskServiceStandIn

pytestmark = pytest.mark.django_db

SERVICE_FIELDS = {
    "kf_id", "name", "description", "last_ok_status", "author", "health_status", "url",
    "created_at", "enabled",
}  # fmt: skip


@pytest.fixture
def status_ok():
    svc = TaskServiceStandIn(mode="manual", name="test")
    yield svc
    svc.stop()


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
    assert anon.delete(f"/task-services/{kf_id}").status_code == 401
    assert dev.delete(f"/task-services/{kf_id}").status_code == 204
    assert not TaskService.objects.exists()
    assert ApiToken.objects.get(subject=f"task-service:{kf_id}").revoked_at is not None
    assert dev.delete(f"/task-services/{kf_id}").status_code == 404


def test_health_checks_trigger_needs_admin_or_service(anon, dev, service):
    assert anon.post("/task-services/health_checks").status_code == 401
    assert dev.post("/task-services/health_checks").status_code == 403


def test_a_service_token_may_fire_the_status_check_triggers(running_task, service):
    resp = Api(service.inbound).post("/tasks/status_checks")
    assert resp.status_code == 200
    assert resp.json()["message"] == "1 task to check"
    assert Api(service.inbound).post("/releases/status_checks").status_code == 200
