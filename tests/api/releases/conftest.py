"""Fixtures of the releases API tests: studies, clients, JSON helpers, and a release with a task
service and its running task."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
