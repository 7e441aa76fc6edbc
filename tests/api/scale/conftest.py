"""Fixtures of the Scale API tests: a JSON client per actor.

Alice holds an admin token, Bob a dev token, Charlie a user token; Mallory holds none."""

from __future__ import annotations

import pytest

from tests.support.api_client import Api as SharedApi


class Api(SharedApi):
    """The shared JSON client; a server error comes back as a 500 response, not an exception."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__(token, raise_request_exception=False)


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
