"""Tracker fixtures: a live HTTP server, a client that speaks like the public clients, actors.

Requests go over real HTTP (pytest-django's live server) with the body as raw JSON and no
Content-Type, as the Python and Go clients send them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests


@dataclass
class Tracker:
    """One HTTP caller: optional worker credentials and its own cookie jar (manager session)."""

    base: str
    worker_id: Any = None
    secret: Any = None
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self) -> dict[str, str]:
        # The Python client sends these two headers always, as the literal "None" when unset.
        return {
            "User-Agent": "tt_py_client1.0",
            "X-Worker-Id": str(self.worker_id),
            "X-Secret": str(self.secret),
        }

    def post(
        self, path: str, body: Any = None, raw: bytes | None = None, **kw
    ) -> requests.Response:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {**self.headers(), **kw.pop("headers", {})}
        return self.session.post(self.base + path, data=data, headers=headers, timeout=10, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return self.session.get(self.base + path, headers=headers, timeout=10, **kw)

    def as_worker(self, worker: dict) -> Tracker:
        return Tracker(self.base, worker["id"], worker["secret"])


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    # The live server runs in this process: a cheap hasher saves ~0.3 s per registration.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tt(live_server, redis_client) -> Tracker:
    """An anonymous caller (worker headers "None")."""
    return Tracker(live_server.url)


def make_worker(tt: Tracker, alias: str = "drone") -> Tracker:
    reply = tt.post("/worker/create", {"alias": alias})
    assert reply.status_code == 200, reply.text
    return tt.as_worker(reply.json()["content"]["worker"])


def browser(tt: Tracker) -> Tracker:
    """A caller like the original's UI: a page of this origin making XHR calls, which every
    current browser marks with Sec-Fetch-Site (and Origin on a POST)."""
    page = Tracker(tt.base)
    page.session.headers.update({"Sec-Fetch-Site": "same-origin", "Origin": tt.base})
    return page


def make_manager(tt: Tracker, username: str) -> Tracker:
    manager = browser(tt)
    reply = manager.post("/register", {"username": username, "password": "correct horse"})
    assert reply.status_code == 200, reply.text
    return manager


@pytest.fixture
def admin(tt) -> Tracker:
    """Alice registers first, so she is the tracker admin."""
    return make_manager(tt, "alice")


@pytest.fixture
def user(tt, admin) -> Tracker:
    """Bob registers second: an ordinary manager."""
    return make_manager(tt, "bob")


def make_project(manager: Tracker, name: str, **fields) -> int:
    body = {
        "name": name,
        "clone_url": "http://github.com/test/test",
        "git_repo": f"test/{name}",
        "version": "1.0",
        "priority": 999,
        "motd": "hello",
        "public": False,
        "hidden": False,
        "chain": 0,
        "assign_rate": 0,
        "submit_rate": 0,
        **fields,
    }
    reply = manager.post("/project/create", body)
    assert reply.status_code == 200, reply.text
    return reply.json()["content"]["id"]


def grant(manager: Tracker, worker: Tracker, project: int, assign=True, submit=True) -> None:
    reply = worker.post(
        "/project/request_access", {"assign": assign, "submit": submit, "project": project}
    )
    assert reply.json() == {"ok": True}, reply.text
    reply = manager.post(f"/project/accept_request/{project}/{worker.worker_id}")
    assert reply.json() == {"ok": True}, reply.text


@dataclass
class Setup:
    """The Go suite's TestMain: a private project and a worker with approved assign+submit."""

    admin: Tracker
    worker: Tracker
    project: int


@pytest.fixture
def setup(tt, admin) -> Setup:
    worker = make_worker(tt)
    project = make_project(admin, "generictestproject")
    grant(admin, worker, project)
    return Setup(admin=admin, worker=worker, project=project)


def submit(worker: Tracker, project: int, recipe: str = "{}", **fields) -> requests.Response:
    body = {
        "project": project,
        "max_retries": 3,
        "recipe": recipe,
        "priority": 1,
        "max_assign_time": 3600,
        "hash_u64": 0,
        "unique_string": "",
        "verification_count": 0,
        **fields,
    }
    return worker.post("/task/submit", body)
