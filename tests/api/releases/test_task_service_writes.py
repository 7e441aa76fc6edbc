"""Who may change or delete a task service, what a url change does to its outbound token, and
why a service with live tasks cannot be deleted (issue 7, items 1 and 11).

Alice is an admin, Bob a developer who registers his own service, Mallory another developer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from domain.common import jwks
from domain.common.models import ApiToken
from domain.common.tokens import token_create
from domain.releases import services, task_services
from domain.releases.models import Release, Task, TaskService
from orchestrator.clients.task_service import check_health
from tests.support.api_client import Api
from tests.support.oidc_provider import OidcProviderStandIn
from tests.support.task_service import TaskServiceStandIn

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_host(task_service_host) -> TaskServiceStandIn:
    return task_service_host("bob-etl")


@pytest.fixture
def mallory_host(task_service_host) -> TaskServiceStandIn:
    return task_service_host("mallory")


@pytest.fixture
def bob() -> Api:
    return Api(token_create(role="dev", name="Bob").plaintext)


@pytest.fixture
def mallory() -> Api:
    return Api(token_create(role="dev", name="Mallory").plaintext)


@pytest.fixture
def bobs_service(bob, bob_host) -> TaskService:
    body = {"name": "ETL", "author": "bob", "url": bob_host.url, "outbound_token": "bob-s3cret"}
    resp = bob.post("/task-services", body)
    assert resp.status_code == 201, resp.content
    return TaskService.objects.get(pk=resp.json()["kf_id"])


def _health_check(service: TaskService) -> None:
    """What the health-check task does for the service as it is stored now."""
    row = TaskService.objects.get(pk=service.pk)
    check_health(base_url=row.url, token=row.outbound_token)


def _authorizations(host: TaskServiceStandIn) -> list[str | None]:
    return [c.headers.get("Authorization") for c in host.calls]


def test_it_refuses_a_url_change_by_a_developer_who_did_not_register_the_service(
    bobs_service, mallory, mallory_host
):
    for method in ("patch", "put"):
        body = {"name": "ETL", "author": "m", "url": mallory_host.url}
        resp = getattr(mallory, method)(f"/task-services/{bobs_service.pk}", body)
        assert resp.status_code == 403, resp.content
        assert resp.json() == {"detail": "You may change only task services you registered."}
    # Refused before the new url was contacted, and nothing changed.
    assert mallory_host.calls == []
    row = TaskService.objects.get(pk=bobs_service.pk)
    assert (row.url, row.outbound_token) == (bobs_service.url, "bob-s3cret")
    _health_check(bobs_service)
    assert "Bearer bob-s3cret" not in _authorizations(mallory_host)


def test_it_refuses_a_delete_by_a_developer_who_did_not_register_the_service(bobs_service, mallory):
    resp = mallory.delete(f"/task-services/{bobs_service.pk}")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "You may change only task services you registered."}
    assert TaskService.objects.filter(pk=bobs_service.pk).exists()


@pytest.mark.parametrize("method", ["patch", "put"])
def test_it_drops_the_outbound_token_when_the_url_changes(method, bobs_service, bob, mallory_host):
    # Even its owner moving the service elsewhere must not carry the old host's secret along.
    body = {"name": "ETL", "author": "bob", "url": mallory_host.url}
    resp = getattr(bob, method)(f"/task-services/{bobs_service.pk}", body)
    assert resp.status_code == 200, resp.content
    assert TaskService.objects.get(pk=bobs_service.pk).outbound_token == ""
    _health_check(bobs_service)
    assert mallory_host.calls and _authorizations(mallory_host) == [None] * len(mallory_host.calls)


def test_it_keeps_an_outbound_token_sent_with_the_new_url(bobs_service, bob, mallory_host):
    body = {"url": mallory_host.url, "outbound_token": "for-the-new-host"}
    assert bob.patch(f"/task-services/{bobs_service.pk}", body).status_code == 200
    assert TaskService.objects.get(pk=bobs_service.pk).outbound_token == "for-the-new-host"


def test_it_keeps_the_outbound_token_when_the_url_stays(bobs_service, bob, bob_host):
    body = {"url": bob_host.url, "description": "same host", "outbound_token": None}
    assert bob.patch(f"/task-services/{bobs_service.pk}", body).status_code == 200
    assert TaskService.objects.get(pk=bobs_service.pk).outbound_token == "bob-s3cret"


def test_it_lets_the_registering_developer_and_an_admin_change_and_delete(bobs_service, bob, admin):
    path = f"/task-services/{bobs_service.pk}"
    assert bob.patch(path, {"enabled": False}).json()["enabled"] is False
    assert admin.patch(path, {"name": "ETL by Alice"}).json()["name"] == "ETL by Alice"
    assert admin.delete(path).status_code == 204
    assert not TaskService.objects.filter(pk=bobs_service.pk).exists()


def test_it_lets_only_admins_change_a_service_registered_before_registrants_were_kept(dev, admin):
    old, _ = task_services.task_service_create(name="Old", url="http://old.example", author="x")
    assert old.registered_by is None
    assert dev.patch(f"/task-services/{old.pk}", {"enabled": False}).status_code == 403
    assert dev.delete(f"/task-services/{old.pk}").status_code == 403
    assert admin.patch(f"/task-services/{old.pk}", {"enabled": False}).status_code == 200
    assert admin.delete(f"/task-services/{old.pk}").status_code == 204


@pytest.fixture
def oidc(settings) -> Iterator[OidcProviderStandIn]:
    idp = OidcProviderStandIn()
    jwks.clear_cache()
    settings.OIDC_JWKS_URL = idp.url
    settings.OIDC_ISSUER = "https://idp.example/"
    settings.OIDC_AUDIENCE = "https://regatta.example"
    yield idp
    jwks.clear_cache()
    idp.stop()


def _jwt_dev(idp: OidcProviderStandIn, subject: str) -> Api:
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": "https://idp.example/",
        "aud": "https://regatta.example",
        "iat": now,
        "exp": now + 600,
        "https://kidsfirstdrc.org/roles": ["dev"],
    }
    return Api(idp.key.sign(claims))


def test_it_knows_a_jwt_developer_by_its_subject(oidc, bob_host):
    carol = _jwt_dev(oidc, "auth0|carol")
    resp = carol.post("/task-services", {"name": "C", "author": "carol", "url": bob_host.url})
    assert resp.status_code == 201, resp.content
    path = f"/task-services/{resp.json()['kf_id']}"
    assert TaskService.objects.get(pk=resp.json()["kf_id"]).registered_by == "oidc:auth0|carol"
    # A fresh JWT of the same subject is the same developer; another subject is not.
    assert _jwt_dev(oidc, "auth0|carol").patch(path, {"enabled": False}).status_code == 200
    assert _jwt_dev(oidc, "auth0|dave").patch(path, {"enabled": True}).status_code == 403
    assert _jwt_dev(oidc, "auth0|dave").delete(path).status_code == 403
    assert carol.delete(path).status_code == 204


def test_it_answers_404_before_403_for_an_unknown_service(mallory):
    assert mallory.patch("/task-services/TS_00000000", {"enabled": False}).status_code == 404
    assert mallory.delete("/task-services/TS_00000000").status_code == 404


# --- deleting a service with live tasks (item 11) ------------------------------------------------


@pytest.fixture
def live_release(studies, bobs_service) -> Release:
    """A release running with one task on Bob's service."""
    release = services.release_create(name="R", studies=["SD_00000001"])
    services.release_prepare(release_id=release.kf_id)
    task = Task.objects.get(release=release)
    services.task_mark_initialized(task_id=task.kf_id)
    services.release_start(release_id=release.kf_id)
    return release


@pytest.mark.parametrize("state", ["waiting", "running", "staged", "publishing", "canceling"])
def test_it_refuses_to_delete_a_service_whose_tasks_are_in_an_unfinished_release(
    state, live_release, bobs_service, bob
):
    Release.objects.filter(pk=live_release.pk).update(state=state)
    resp = bob.delete(f"/task-services/{bobs_service.pk}")
    assert resp.status_code == 400, resp.content
    assert resp.json() == {
        "detail": "This task service has tasks in releases that have not ended "
        f"({live_release.pk}): cancel those releases or wait until they end."
    }
    # Nothing was written: the service, its task and its inbound token are all still there.
    assert TaskService.objects.filter(pk=bobs_service.pk).exists()
    assert Task.objects.filter(release=live_release).count() == 1
    token = ApiToken.objects.get(
        subject=task_services.task_service_subject(service_id=bobs_service.pk)
    )
    assert token.revoked_at is None


def test_it_names_each_unfinished_release_once(live_release, bobs_service, bob, studies):
    # A second task of the same release, and a second release: each release is named once.
    Task.objects.create(release=live_release, task_service=bobs_service, state="running")
    other = services.release_create(name="R2", studies=["SD_00000001"])
    Task.objects.create(release=other, task_service=bobs_service)
    resp = bob.delete(f"/task-services/{bobs_service.pk}")
    assert resp.status_code == 400
    named = ", ".join(sorted([live_release.pk, other.pk]))
    assert f"({named})" in resp.json()["detail"]


@pytest.mark.parametrize("state", ["published", "canceled", "failed"])
def test_it_deletes_a_service_whose_releases_have_all_ended(state, live_release, bobs_service, bob):
    Release.objects.filter(pk=live_release.pk).update(state=state)
    assert bob.delete(f"/task-services/{bobs_service.pk}").status_code == 204
    assert not TaskService.objects.filter(pk=bobs_service.pk).exists()
    assert not Task.objects.filter(release=live_release).exists()
