"""domain/tracker/projects.py: the project list costs the same queries for 1 project as for 20,
and shows each caller the projects it may see."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domain.tracker.models import ROLE_EDIT, ROLE_READ, Manager, ManagerRole, Project
from domain.tracker.projects import project_list

pytestmark = pytest.mark.django_db


def _project(name: str, **fields) -> Project:
    return Project.objects.create(name=name, assign_rate=1.0, submit_rate=1.0, **fields)


def _manager(username: str, *, admin: bool = False) -> Manager:
    user = get_user_model().objects.create(username=username)
    return Manager.objects.create(user=user, tracker_admin=admin, register_time=0)


def _queries_to_list(manager: Manager | None) -> tuple[int, list[dict]]:
    with CaptureQueriesContext(connection) as queries:
        projects = project_list(manager=manager)
    return len(queries), projects


@pytest.mark.parametrize("caller", ["anonymous", "alice", "admin"])
def test_it_lists_twenty_projects_with_the_queries_of_one(caller):
    manager = {"anonymous": None, "alice": _manager("alice"), "admin": _manager("root", admin=True)}
    manager = manager[caller]
    _project("p00")
    with_one, listed = _queries_to_list(manager)
    assert [p["name"] for p in listed] == ["p00"]
    for i in range(1, 20):
        _project(f"p{i:02}")
    with_twenty, listed = _queries_to_list(manager)
    assert len(listed) == 20
    assert with_twenty == with_one <= 2


def test_it_shows_hidden_projects_only_to_their_readers_and_admins():
    alice, bob, root = _manager("alice"), _manager("bob"), _manager("root", admin=True)
    open_crawl = _project("open crawl", chain_id=None)
    secret = _project("secret crawl", hidden=True)
    _project("other secret", hidden=True)
    ManagerRole.objects.create(manager=alice, project=secret, role=ROLE_READ)
    # Bob may edit the hidden project but not read it: the read bit alone decides.
    ManagerRole.objects.create(manager=bob, project=secret, role=ROLE_EDIT)

    def names(manager: Manager | None) -> list[str]:
        return [p["name"] for p in project_list(manager=manager)]

    assert names(None) == ["open crawl"]
    assert names(alice) == ["open crawl", "secret crawl"]
    assert names(bob) == ["open crawl"]
    assert names(root) == ["open crawl", "other secret", "secret crawl"]
    shown = project_list(manager=None)[0]
    assert (shown["id"], shown["chain"], shown["hidden"]) == (open_crawl.id, 0, False)
