"""Fixtures of the Scale API tests: a JSON client per actor.

Alice holds an admin token, Bob a dev token, Charlie a user token; Mallory holds none."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client


class Api:
    """The Django test client speaking JSON, with an optional bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client(raise_request_exception=False)
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, params: Any = None):
        return self.client.get(path, params or {}, **self._headers())

    def send(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        return getattr(self.client, method.lower())(
            path, data=data, content_type="application/json", **self._headers()
        )

    def post(self, path: str, body: Any = None, **kw: Any):
        return self.send("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any):
        return self.send("PATCH", path, body, **kw)


@pytest.fixture
def alice(admin_token) -> Api:
    return Api(admin_token)


@pytest.fixture
def bob(dev_token) -> Api:
    return Api(dev_token)


@pytest.fixture
def charlie(user_token) -> Api:
    return Api(user_token)


@pytest.fixture
def mallory(db) -> Api:
    return Api()
