"""The operator console's Scale pages (domain/jobs/admin.py): pausing goes through the job type
service and is logged; no page shows a secret. Dana runs the service (staff)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from domain.common.models import TransitionLog
from domain.jobs.job_types import job_type_create
from domain.jobs.models import JobType, StoredSecret, Workspace
from domain.jobs.workspaces import workspace_create
from tests.domain.jobs.seeds import complete, minimal

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(db) -> Client:
    user = get_user_model().objects.create_superuser("dana", "dana@example.org", "s3cret-pass")
    client = Client()
    client.force_login(user)
    return client


def _act(client: Client, model, action: str, pks: list) -> None:
    url = reverse(f"admin:jobs_{model._meta.model_name}_changelist")
    reply = client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]})
    assert reply.status_code == 302


def test_dana_pauses_and_resumes_a_job_type_through_the_service(dana):
    job_type = job_type_create(docker_image="img", manifest=minimal()).job_type
    _act(dana, JobType, "pause", [job_type.pk])
    job_type.refresh_from_db()
    assert job_type.is_paused and job_type.paused is not None
    assert TransitionLog.objects.filter(aggregate="jobs.jobtype", field="is_paused").count() == 1
    _act(dana, JobType, "resume", [job_type.pk])
    job_type.refresh_from_db()
    assert not job_type.is_paused


def test_dana_deprecates_a_workspace(dana):
    workspace = workspace_create(
        title="Raw", configuration={"broker": {"type": "host", "host_path": "/r"}}
    )
    _act(dana, Workspace, "deprecate", [workspace.pk])
    workspace.refresh_from_db()
    assert not workspace.is_active and workspace.deprecated is not None


def test_no_console_page_shows_a_secret_value(dana):
    job_type_create(
        docker_image="img", manifest=complete(), configuration={"settings": {"DB_PASS": "hunter2"}}
    )
    secret = StoredSecret.objects.get()
    pages = [
        reverse("admin:jobs_storedsecret_changelist"),
        reverse("admin:jobs_storedsecret_change", args=[secret.pk]),
        reverse("admin:jobs_jobtype_change", args=[JobType.objects.get().pk]),
    ]
    for url in pages:
        html = dana.get(url).content.decode()
        assert "hunter2" not in html and secret.ciphertext not in html
