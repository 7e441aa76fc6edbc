"""Fixtures of the releases API tests: studies, clients, JSON helpers, and a release with a task
service and its running task."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from domain.common.tokens import token_authenticate
from domain.releases import services, task_services
from domain.releases.models import Study, Task
from tests.support.task_service import TaskServiceStandIn


@pytest.fixture
def studies(db) -> list[Study]:
    return [
        Study.objects.create(kf_id="SD_00000001", name="Study one"),
        Study.objects.create(kf_id="SD_00000002", name="Study two"),
    ]


class Api:
    """The Django test client speaking JSON, with an optional bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, token: str | None) -> dict:
        tok = token if token is not None else self.token
        return {"HTTP_AUTHORIZATION": f"Bearer {tok}"} if tok else {}

    def get(self, path: str, token: str | None = None, **params):
        return self.client.get(path, params, **self._headers(token))

    def send(self, method: str, path: str, body=None, token: str | None = None, raw=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method.lower())(
            path, data=data, content_type="application/json", **self._headers(token)
        )

    def post(self, path, body=None, **kw):
        return self.send("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.send("PATCH", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.send("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.send("DELETE", path, None, **kw)


@pytest.fixture
def anon() -> Api:
    return Api()


@pytest.fixture
def admin(admin_token) -> Api:
    return Api(admin_token)


@pytest.fixture
def dev(dev_token) -> Api:
    return Api(dev_token)


@pytest.fixture
def user(user_token) -> Api:
    return Api(user_token)


@pytest.fixture
def task_service_host() -> Iterator[Callable[[str], TaskServiceStandIn]]:
    """make(name) → a stand-in task service answering `GET /status`, stopped after the test."""
    made: list[TaskServiceStandIn] = []

    def make(name: str) -> TaskServiceStandIn:
        made.append(TaskServiceStandIn(mode="manual", name=name))
        return made[-1]

    yield make
    for host in made:
        host.stop()


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
