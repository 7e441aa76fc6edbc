"""Bad input on every endpoint gets a 4xx in the tracker's format, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.api.tracker.conftest import Tracker, submit

pytestmark = pytest.mark.django_db(transaction=True)

POST_PATHS = [
    "/worker/create",
    "/worker/update",
    "/worker/set_paused",
    "/task/submit",
    "/task/bulk_submit",
    "/task/release",
    "/log/info",
    "/log/error",
    "/logs",
    "/register",
    "/login",
    "/project/create",
    "/project/update/{p}",
    "/project/request_access",
    "/project/accept_request/{p}/{w}",
    "/project/reject_request/{p}/{w}",
    "/project/secret/{p}",
    "/project/webhook_secret/{p}",
    "/project/reset_failed_tasks/{p}",
    "/project/hard_reset/{p}",
    "/project/reclaim_assigned_tasks/{p}",
    "/manager/set_role_for_project/{p}",
    "/git/receivehook",
]
GET_PATHS = [
    "/task/get/{p}",
    "/worker/get/{w}",
    "/project/get/{p}",
    "/project/assignees/{p}",
    "/project/access_list/{p}",
    "/project/secret/{p}",
    "/project/webhook_secret/{p}",
    "/project/monitoring/{p}?count=abc",
    "/project/monitoring-between/{p}?from=-1&to=99999999999999",
    "/manager/list_for_project/{p}",
    "/manager/promote/{w}",
    "/manager/demote/{w}",
]
BAD_IDS = ["0", "-5", "abc", "99999999999999999999999", "1.5", "%C3%A9", "9223372036854775807"]
WEIRD = [None, True, -1, 2**70, -(2**70), 1.5, "", "x" * 5000, "\ud800", [], {}, [1, {"a": None}]]
KEYS = [
    "project", "recipe", "priority", "max_retries", "verification_count", "hash_u64",
    "unique_string", "max_assign_time", "task_id", "result", "verification", "alias",
    "worker", "paused", "scope", "message", "timestamp", "level", "since", "username",
    "password", "name", "public", "hidden", "chain", "assign_rate", "submit_rate",
    "assign", "submit", "secret", "webhook_secret", "manager", "role", "requests",
]  # fmt: skip
RAW = [
    b"",
    b"null",
    b"[]",
    b"{",
    b'"str"',
    b"123",
    b"\xff\xfe",
    b'{"a":' * 50,
    b"NaN",
    b'{"name": "n", "assign_rate": 1e999, "submit_rate": 1' + b"0" * 400 + b"}",
]


def _bodies() -> list[bytes]:
    bodies = list(RAW)
    for i, value in enumerate(WEIRD):
        body = {key: value for key in KEYS}
        body["requests"] = [body.copy(), {"project": value}] if i % 2 else value
        bodies.append(json.dumps(body).encode())
    return bodies


def _assert_handled(reply, what: str) -> None:
    assert reply.status_code < 500, f"{what}: {reply.status_code} {reply.text[:300]}"
    if reply.content and reply.status_code != 404:
        assert reply.headers["Content-Type"].startswith("application/json"), what
        assert json.loads(reply.content)["ok"] in (True, False), what


def test_garbage_bodies_never_500(setup):
    submit(setup.worker, setup.project)
    # One caller with both a valid worker and the admin's session reaches past every check.
    both = Tracker(setup.worker.base, setup.worker.worker_id, setup.worker.secret)
    both.session = setup.admin.session
    for template in POST_PATHS:
        path = template.format(p=setup.project, w=setup.worker.worker_id)
        for raw in _bodies():
            reply = both.post(path, raw=raw)
            _assert_handled(reply, f"POST {path} {raw[:60]!r}")


def test_garbage_path_ids_never_500(setup):
    for template in GET_PATHS + POST_PATHS:
        for bad in BAD_IDS:
            path = template.format(p=bad, w=bad)
            if "{" not in template:
                continue
            reply = setup.admin.get(path) if template in GET_PATHS else setup.admin.post(path, {})
            _assert_handled(reply, f"{path}")
            reply = setup.worker.get(path)
            _assert_handled(reply, f"{path}")


def test_weird_headers_never_500(setup):
    for wid, secret in [
        ("None", "None"),
        ("", ""),
        ("1" * 40, "x"),
        ("-1", "===="),
        (str(setup.worker.worker_id), "é"),
        ("+1", "A" * 10000),
    ]:
        for method, path in (("get", f"/task/get/{setup.project}"), ("post", "/task/release")):
            headers = {"X-Worker-Id": wid, "X-Secret": secret}
            reply = getattr(setup.worker.session, method)(
                setup.worker.base + path, headers=headers, timeout=5
            )
            _assert_handled(reply, f"{wid!r} {secret[:10]!r}")
            assert reply.status_code in (400, 403)
