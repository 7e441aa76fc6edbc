"""Fixtures of every family's API tests: the JSON client by role (a family's own conftest may
name its clients otherwise: the tracker's speak its own protocol)."""

from __future__ import annotations

import pytest

from tests.support.api_client import Api


@pytest.fixture
def anon() -> Api:
    """No credentials at all."""
    return Api()


@pytest.fixture
def admin(admin_token) -> Api:
    """Alice, an `admin` token."""
    return Api(admin_token)


@pytest.fixture
def dev(dev_token) -> Api:
    """Bob the developer, a `dev` token: may write."""
    return Api(dev_token)


@pytest.fixture
def user(user_token) -> Api:
    """Charlie, a `user` token: may read, never write."""
    return Api(user_token)
