"""The operator console at /admin/: staff only, every model listed, state changed only by the
domain services its actions call."""

from __future__ import annotations

import time

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from domain.common.models import TransitionLog
from domain.common.tokens import token_authenticate, token_create
from domain.releases import services as releases
from domain.releases.models import Release, Study, TaskService
from domain.tracker.models import FAILED, NEW, Project, Task, Worker
from domain.tracker.workers import worker_create

pytestmark = pytest.mark.django_db

CONSOLE_APPS = ("common", "releases", "tracker", "jobs", "runs")


@pytest.fixture
def dana(db) -> Client:
    """Dana runs the service: a staff superuser, logged in."""
    user = get_user_model().objects.create_superuser("dana", "dana@example.org", "s3cret-pass")
    client = Client()
    client.force_login(user)
    return client


# The console's own links escape a primary key with `quote` ("RE_23…" would otherwise read back
# as "RE#…"); so must the tests.


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _act(client: Client, model, action: str, pks: list) -> None:
    reply = client.post(
        _changelist(model), {"action": action, "_selected_action": [str(pk) for pk in pks]}
    )
    assert reply.status_code == 302, reply.content[:500]


def test_it_lists_every_model_of_every_family() -> None:
    models = [m for label in CONSOLE_APPS for m in apps.get_app_config(label).get_models()]
    missing = [m.__name__ for m in models if m not in admin.site._registry]
    assert missing == []


def test_it_shows_every_list_to_staff(dana: Client) -> None:
    for model in admin.site._registry:
        if model._meta.app_label in CONSOLE_APPS:
            assert dana.get(_changelist(model)).status_code == 200, model.__name__


def test_it_turns_away_anyone_who_is_not_staff(db) -> None:
    erin = get_user_model().objects.create_user("erin", password="not-staff-pass")
    anonymous, member = Client(), Client()
    member.force_login(erin)
    for client in (anonymous, member):
        reply = client.get(_changelist(Release))
        assert reply.status_code == 302
        assert reply["Location"].startswith(reverse("admin:login"))


def test_it_never_edits_a_state_field_by_hand(dana: Client) -> None:
    # An id whose "_23" would read back as "#" unless the link quotes it.
    release = Release.objects.create(kf_id="RE_2328GYSB", name="r1")
    url = reverse("admin:releases_release_change", args=[quote(release.pk)])
    assert dana.get(url).status_code == 200
    reply = dana.post(url, {"name": "r1", "state": "published"})
    assert reply.status_code == 403
    release.refresh_from_db()
    assert release.state == "waiting"


def test_it_cancels_releases_through_the_release_service(dana: Client) -> None:
    Study.objects.create(kf_id="SD_00000001", name="a study")
    release = releases.release_create(name="r1", studies=["SD_00000001"])
    _act(dana, Release, "cancel", [release.pk])
    release.refresh_from_db()
    assert release.state == "canceling"
    log = TransitionLog.objects.filter(aggregate_id=release.pk, target="canceling")
    assert log.count() == 1


def test_it_pauses_and_resumes_workers(dana: Client) -> None:
    worker, _ = worker_create(alias="drone")
    _act(dana, Worker, "pause", [worker.pk])
    assert Worker.objects.get(pk=worker.pk).paused
    _act(dana, Worker, "resume", [worker.pk])
    assert not Worker.objects.get(pk=worker.pk).paused


def test_it_retries_only_failed_tasks(dana: Client) -> None:
    project = Project.objects.create(name="p", assign_rate=1, submit_rate=1)
    failed = Task.objects.create(project=project, recipe="a", status=FAILED, retries=3)
    waiting = Task.objects.create(project=project, recipe="b", status=NEW, retries=1)
    _act(dana, Task, "retry", [failed.pk, waiting.pk])
    failed.refresh_from_db()
    waiting.refresh_from_db()
    assert (failed.status, failed.retries) == (NEW, 0)
    assert (waiting.status, waiting.retries) == (NEW, 1)


def test_it_resets_and_reclaims_a_projects_tasks(dana: Client) -> None:
    project = Project.objects.create(name="p", assign_rate=1, submit_rate=1)
    worker, _ = worker_create(alias="drone")
    failed = Task.objects.create(project=project, recipe="a", status=FAILED, retries=2)
    held = Task.objects.create(
        project=project, recipe="b", assignee=worker, assign_time=int(time.time())
    )
    _act(dana, Project, "reset_failed", [project.pk])
    _act(dana, Project, "reclaim_assigned", [project.pk])
    failed.refresh_from_db()
    held.refresh_from_db()
    assert failed.status == NEW
    assert held.assignee_id is None


def test_it_revokes_tokens_at_once(dana: Client) -> None:
    issued = token_create(role="dev", name="Bob")
    _act(dana, type(issued.token), "revoke", [issued.token.pk])
    assert token_authenticate(plaintext=issued.plaintext) is None


def test_it_never_shows_a_secret(dana: Client) -> None:
    service = TaskService.objects.create(
        name="svc", url="http://127.0.0.1:9/", author="a", outbound_token="outbound-secret-value"
    )
    issued = token_create(role="dev", name="Bob")
    pages = [
        reverse("admin:releases_taskservice_change", args=[quote(service.pk)]),
        reverse("admin:common_apitoken_change", args=[issued.token.pk]),
    ]
    for url in pages:
        html = dana.get(url).content.decode()
        assert "outbound-secret-value" not in html
        assert issued.token.token_hash not in html


def test_it_enables_and_disables_task_services(dana: Client) -> None:
    service = TaskService.objects.create(name="svc", url="http://127.0.0.1:9/", author="a")
    _act(dana, TaskService, "disable", [service.pk])
    assert not TaskService.objects.get(pk=service.pk).enabled
    _act(dana, TaskService, "enable", [service.pk])
    assert TaskService.objects.get(pk=service.pk).enabled
