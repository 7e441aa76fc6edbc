"""Fixtures of the Flotilla API tests: JSON clients by role, definitions, runs in each status."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from domain.runs.definitions import definition_create
from domain.runs.execute import RunRequest, run_execute
from domain.runs.models import Definition, Run


class Api:
    """The Django test client speaking JSON, with an optional bearer token and headers."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if self.token:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        return extra

    def get(self, path: str, params=None, headers: dict | None = None):
        return self.client.get(path, params or {}, **self._headers(headers))

    def send(self, method: str, path: str, body=None, raw: str | bytes | None = None, headers=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method.lower())(
            path, data=data, content_type="application/json", **self._headers(headers)
        )

    def post(self, path, body=None, **kw):
        return self.send("POST", path, body, **kw)

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
    """Bob the developer: may write."""
    return Api(dev_token)


@pytest.fixture
def user(user_token) -> Api:
    """Charlie, a `user` token: may read, never write."""
    return Api(user_token)


@pytest.fixture
def hello(db) -> Definition:
    """Alice's `hello` definition in group `testing`."""
    return definition_create(
        group_name="testing",
        alias="hello",
        image="library/ubuntu:latest",
        command="echo hi",
        memory=512,
        env=[("GREETING", "hi"), ("SHARED", "from-definition")],
        tags=["greeting"],
    )


def make_run(definition: Definition, owner: str = "alice", **fields) -> Run:
    return run_execute(request=RunRequest(owner=owner, **fields), definition_id=definition.pk)


def force_status(run: Run, status: str, **fields) -> Run:
    """Put a run (not its execution) in `status` directly, for read tests."""
    Run.objects.filter(pk=run.pk).update(status=status, **fields)
    run.refresh_from_db()
    return run
