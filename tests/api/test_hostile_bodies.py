"""Hostile bodies on every write endpoint of the releases, tracker and Scale families.

Mallory sends, with no credentials and again with Alice's (an admin token and a worker's
headers), a JSON body nested 5,000 levels deep (with and without a `\\u0000` at the bottom) and a
body one byte over DATA_UPLOAD_MAX_MEMORY_SIZE. Each must answer a 4xx in the family's own error
format (413 for the size), never a 500 and never Django's HTML page, and write no row.

The endpoints come from each family's OpenAPI document, so a new route is probed without
touching this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from api.releases import api as releases_api
from api.scale import api as scale_api
from api.tracker import api as tracker_api
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
DEPTH = 5000
# Path parameters get an id no row has: the body is parsed before any lookup.
_PARAM = re.compile(r"\{[^}]+\}")
NO_SUCH_ID = "999999"


def _nested(leaf: str, depth: int = DEPTH, key: str | None = "name") -> bytes:
    inner = "[" * depth + json.dumps(leaf) + "]" * depth
    return (inner if key is None else f"{{{json.dumps(key)}: {inner}}}").encode()


def _oversized() -> bytes:
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    return json.dumps({"name": padding}).encode()


# Broken JSON: the answer each endpoint gives a body it cannot parse.
MALFORMED = b'{"name": '

PROBES: dict[str, Callable[[], bytes]] = {
    "nested-nul": lambda: _nested("\u0000"),
    "nested": lambda: _nested("x"),
    # Shallow enough for json.loads, deep enough for a recursive walk of what it returns; an
    # array, which no endpoint takes, so a family that ignores unknown keys cannot accept it.
    "nested-nul-600": lambda: _nested("\u0000", 600, key=None),
    "oversized": _oversized,
}


def _releases_error(body: Any) -> bool:
    # DRF's two shapes: {"detail": message} or {field: [messages]}.
    if not isinstance(body, dict) or not body:
        return False
    if set(body) == {"detail"}:
        return isinstance(body["detail"], str)
    return all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body.values())


def _tracker_error(body: Any) -> bool:
    return isinstance(body, dict) and body.get("ok") is False


def _scale_error(body: Any) -> bool:
    return isinstance(body, dict) and set(body) == {"detail"} and isinstance(body["detail"], str)


FAMILIES = {
    "releases": (releases_api, _releases_error),
    "tracker": (tracker_api, _tracker_error),
    "scale": (scale_api, _scale_error),
}


def write_endpoints(api) -> Iterator[tuple[str, str]]:
    """(method, concrete path) for every write operation in the family's OpenAPI document."""
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method in operations:
            if method in WRITE_METHODS:
                yield method, _PARAM.sub(NO_SUCH_ID, path)


def _send(client: Client, method: str, path: str, body: bytes, headers: dict[str, str]):
    return getattr(client, method)(path, body, content_type="application/json", **headers)


@pytest.fixture
def client() -> Client:
    # Answer as the server would (Django's 500 page), rather than re-raising in the test.
    return Client(raise_request_exception=False)


@pytest.fixture
def alice(admin_token) -> dict[str, str]:
    """Every credential the two families take: an admin API token and a worker's headers."""
    from domain.tracker.workers import worker_create

    worker, secret = worker_create(alias="alice-drone")
    return {
        **bearer(admin_token),
        "HTTP_X_WORKER_ID": str(worker.id),
        "HTTP_X_SECRET": secret,
    }


def _row_counts() -> dict[str, int]:
    labels = ("releases", "tracker", "common", "jobs")
    return {
        m._meta.label: m.objects.count()
        for label in labels
        for m in apps.get_app_config(label).get_models()
    }


def _probe_family(
    client: Client, family: str, headers: dict[str, str], *, authorized: bool
) -> list[str]:
    api, is_error = FAMILIES[family]
    failures = []
    for method, path in write_endpoints(api):
        # What the endpoint answers any broken JSON: its own wire answer, which may be no error
        # at all when it never reads its body.
        reference = _send(client, method, path, MALFORMED, headers)
        assert reference.status_code < 500, (method, path, reference.content[:200])
        for name, make in PROBES.items():
            resp = _send(client, method, path, make(), headers)
            problem = _judge(name, resp, reference, is_error, authorized=authorized)
            if problem:
                failures.append(f"{method.upper()} {path} [{name}]: {problem}")
    return failures


def _family_error(resp, is_error: Callable[[Any], bool]) -> bool:
    try:
        return is_error(json.loads(resp.content))
    except ValueError:
        return False


def _same_answer(resp, reference, is_error: Callable[[Any], bool]) -> bool:
    if resp.status_code != reference.status_code:
        return False
    return resp.content == reference.content or (
        _family_error(resp, is_error) and _family_error(reference, is_error)
    )


def _judge(
    probe: str, resp, reference, is_error: Callable[[Any], bool], *, authorized: bool
) -> str | None:
    """A hostile body is answered as any broken body is, or with the family's own 400 (413 for
    a body too large to read)."""
    status = resp.status_code
    oversized = probe == "oversized"
    # Past authentication a 400 can only be about the body, which for this one must be a 413.
    read_too_large = authorized and oversized and status == 400
    if status < 500 and _same_answer(resp, reference, is_error) and not read_too_large:
        return None
    expected = 413 if oversized else 400
    if status == expected and _family_error(resp, is_error):
        return None
    return f"{status} {resp.content[:100]!r} (broken JSON: {reference.status_code})"


@pytest.mark.parametrize("family", FAMILIES)
def test_it_refuses_hostile_bodies_from_mallory_without_credentials(client, family):
    before = _row_counts()
    assert _probe_family(client, family, {}, authorized=False) == []
    assert _row_counts() == before


@pytest.fixture
def one_body_limit(monkeypatch) -> None:
    # Bulk submit takes bodies far larger than the probe on purpose: lower its own limit to the
    # probe's, so the probe shows how it answers a body past that limit.
    from domain.tracker import conf

    monkeypatch.setattr(conf, "BULK_MAX_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


@pytest.mark.parametrize("family", FAMILIES)
def test_it_refuses_hostile_bodies_sent_with_alices_credentials(
    client, alice, one_body_limit, family
):
    before = _row_counts()
    assert _probe_family(client, family, alice, authorized=True) == []
    assert _row_counts() == before


def test_it_probes_the_known_write_endpoints_of_each_family():
    # The enumeration itself: a regression that empties it would make the probes vacuous.
    releases = set(write_endpoints(releases_api))
    tracker = set(write_endpoints(tracker_api))
    scale = set(write_endpoints(scale_api))
    assert {("post", "/v6/job-types/"), ("patch", "/v6/workspaces/999999/")} <= scale
    assert {("post", "/releases"), ("patch", "/task-services/999999")} <= releases
    assert {("delete", "/releases/999999")} <= releases
    assert {("post", "/task/submit"), ("post", "/project/create")} <= tracker


@pytest.mark.parametrize(
    ("family", "method", "path"),
    [
        ("releases", "post", "/releases"),
        ("tracker", "post", "/task/submit"),
        ("scale", "post", "/v6/job-types/"),
    ],
)
def test_it_answers_413_in_the_family_format_to_alices_too_large_body(
    client, alice, family, method, path
):
    resp = _send(client, method, path, _oversized(), alice)
    assert resp.status_code == 413
    assert FAMILIES[family][1](resp.json())


@pytest.mark.parametrize(
    ("family", "path"),
    [("releases", "/releases"), ("tracker", "/project/create"), ("scale", "/v6/job-types/")],
)
def test_it_answers_400_in_the_family_format_to_a_deeply_nested_body(client, alice, family, path):
    for probe in ("nested-nul", "nested"):
        resp = _send(client, "post", path, PROBES[probe](), alice)
        assert resp.status_code == 400, (probe, resp.content[:200])
        assert FAMILIES[family][1](resp.json())
