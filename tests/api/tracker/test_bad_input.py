"""Bad input on every endpoint gets the original's answer (status and message), never a 500.

The tables below name, per endpoint, what the original answers to garbage bodies, wrong types,
numbers out of range (int16, int64), missing fields and NUL bytes; the fuzz tests after them
throw everything at every endpoint and only require a handled 4xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from domain.tracker.models import Manager, Project
from tests.api.tracker.conftest import Tracker, submit

pytestmark = pytest.mark.django_db(transaction=True)


def err(message: str) -> dict:
    return {"ok": False, "message": message}


PARSE = err("Could not parse request")
INVALID_REQUEST = err("Invalid request")
INVALID_PROJECT = err("Invalid project")
BIG = 2**63  # one past int64
HUGE = 2**64
TRUNCATED = b'{"project": 1, "recipe": "x'
# A raw NUL byte inside a string is not JSON (Go refuses control characters too).
RAW_NUL = b'{"alias": "a\x00", "recipe": "a\x00", "name": "a\x00", "scope": "a\x00"}'
# "<P>", "<M>" in a body stand for the project's and the admin's ids.
GARBAGE = [("truncated JSON", TRUNCATED), ("raw NUL byte", RAW_NUL), ("JSON array", b"[1]")]


def garbage(answer: tuple[int, Any]) -> list[tuple[str, Any, int, Any]]:
    return [(what, body, *answer) for what, body in GARBAGE]


SUBMIT = {"project": "<P>", "recipe": "r", "max_retries": 1}
PROJECT = {"name": "n", "priority": 1}
LOG = {"scope": "s", "message": "m", "timestamp": 1}

BODY_TABLE: dict[str, list[tuple[str, Any, int, Any]]] = {
    # The original answers a body it cannot decode here with 200 and nothing at all.
    "/worker/create": [
        *garbage((200, b"")),
        ("alias not a string", {"alias": 5}, 200, b""),
        ("alias a list", {"alias": ["x"]}, 200, b""),
        ("NUL in alias", {"alias": "a\x00"}, 200, b""),
        (
            "reserved alias",
            {"alias": "unassigned"},
            403,
            err("You are now allowed to create a worker"),
        ),
    ],
    "/worker/update": [
        *garbage((400, PARSE)),
        ("alias not a string", {"alias": 5}, 400, PARSE),
        ("NUL in alias", {"alias": "a\x00"}, 400, PARSE),
        ("reserved alias", {"alias": "unassigned"}, 200, err("Could not update worker")),
    ],
    "/worker/set_paused": [
        *garbage((400, PARSE)),
        ("worker a string", {"worker": "1", "paused": True}, 400, PARSE),
        ("paused a string", {"worker": 1, "paused": "yes"}, 400, PARSE),
        ("worker > int64", {"worker": BIG, "paused": True}, 400, PARSE),
        ("missing fields", {}, 400, err("Invalid worker")),
        ("unknown worker", {"worker": BIG - 1, "paused": True}, 400, err("Invalid worker")),
    ],
    "/task/submit": [
        *garbage((400, PARSE)),
        ("recipe not a string", {**SUBMIT, "recipe": 5}, 400, PARSE),
        ("max_retries a float", {**SUBMIT, "max_retries": 1.5}, 400, PARSE),
        ("priority > int16", {**SUBMIT, "priority": 32768}, 400, PARSE),
        ("priority < int16", {**SUBMIT, "priority": -32769}, 400, PARSE),
        ("verification_count > int16", {**SUBMIT, "verification_count": 70000}, 400, PARSE),
        ("project > int64", {**SUBMIT, "project": BIG}, 400, PARSE),
        ("hash_u64 > int64", {**SUBMIT, "hash_u64": HUGE}, 400, PARSE),
        ("max_assign_time > int64", {**SUBMIT, "max_assign_time": BIG}, 400, PARSE),
        ("NUL in recipe", {**SUBMIT, "recipe": "a\x00"}, 400, PARSE),
        ("NUL in unique_string", {**SUBMIT, "unique_string": "\x00"}, 400, PARSE),
        ("missing fields", {}, 400, err("Invalid task")),
        ("negative max_retries", {**SUBMIT, "max_retries": -1}, 400, err("Invalid task")),
        (
            "hash and string",
            {**SUBMIT, "hash_u64": 1, "unique_string": "u"},
            400,
            err("Invalid task"),
        ),
        ("unknown project", {**SUBMIT, "project": BIG - 1}, 404, err("Project not found")),
    ],
    "/task/bulk_submit": [
        *garbage((400, PARSE)),
        ("missing requests", {}, 400, PARSE),
        ("empty requests", {"requests": []}, 400, PARSE),
        ("requests an object", {"requests": SUBMIT}, 400, PARSE),
        ("item not an object", {"requests": [SUBMIT, 5]}, 400, PARSE),
        ("item priority > int16", {"requests": [{**SUBMIT, "priority": 32768}]}, 400, PARSE),
        ("item hash_u64 > int64", {"requests": [{**SUBMIT, "hash_u64": HUGE}]}, 400, PARSE),
        ("NUL in an item", {"requests": [SUBMIT, {**SUBMIT, "recipe": "\x00"}]}, 400, PARSE),
        ("item missing fields", {"requests": [SUBMIT, {}]}, 400, INVALID_REQUEST),
        (
            "unknown project",
            {"requests": [{**SUBMIT, "project": BIG - 1}]},
            404,
            err("Project not found"),
        ),
    ],
    "/task/release": [
        *garbage((400, PARSE)),
        ("task_id a string", {"task_id": "1"}, 400, PARSE),
        ("result a float", {"task_id": 1, "result": 0.0}, 400, PARSE),
        ("task_id > int64", {"task_id": BIG}, 400, PARSE),
        ("verification > int64", {"task_id": 1, "verification": HUGE}, 400, PARSE),
        ("missing fields", {}, 400, INVALID_REQUEST),
        (
            "unknown task",
            {"task_id": BIG - 1, "result": 0},
            200,
            {"ok": True, "message": "Task was not marked as closed", "content": {"updated": False}},
        ),
    ],
    "/log/info": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 400, PARSE),
        ("timestamp a string", {**LOG, "timestamp": "1"}, 400, PARSE),
        ("timestamp > int64", {**LOG, "timestamp": BIG}, 400, PARSE),
        ("NUL in message", {**LOG, "message": "\x00"}, 400, PARSE),
        ("NUL in scope", {**LOG, "scope": "s\x00"}, 400, PARSE),
    ],
    "/logs": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 400, err("Invalid log request")),
        ("level a string", {"level": "3", "since": 1}, 400, PARSE),
        ("since > int64", {"level": 3, "since": BIG}, 400, PARSE),
    ],
    "/register": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 400, err("Invalid register request")),
        ("username a number", {"username": 123, "password": "long enough"}, 400, PARSE),
        ("NUL in username", {"username": "ca\x00rol", "password": "long enough"}, 400, PARSE),
        (
            "username too long",
            {"username": "c" * 17, "password": "long enough"},
            400,
            err("Invalid register request"),
        ),
    ],
    "/login": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 403, err("Invalid username/password")),
        ("username a list", {"username": ["alice"], "password": "x"}, 400, PARSE),
        ("NUL in password", {"username": "alice", "password": "\x00"}, 400, PARSE),
    ],
    "/project/create": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 400, INVALID_PROJECT),
        ("priority a string", {**PROJECT, "priority": "1"}, 400, PARSE),
        ("priority > int64", {**PROJECT, "priority": BIG}, 400, PARSE),
        ("chain > int64", {**PROJECT, "chain": BIG}, 400, PARSE),
        ("rate a string", {**PROJECT, "assign_rate": "1"}, 400, PARSE),
        ("rate > float64", b'{"name": "n", "submit_rate": 1e999}', 400, PARSE),
        ("rate too slow", {**PROJECT, "assign_rate": 1e-300}, 400, INVALID_PROJECT),
        ("rate denormal", {**PROJECT, "submit_rate": 5e-324}, 400, INVALID_PROJECT),
        ("negative priority", {**PROJECT, "priority": -1}, 400, INVALID_PROJECT),
        ("public and hidden", {**PROJECT, "public": True, "hidden": True}, 400, INVALID_PROJECT),
        ("NUL in name", {**PROJECT, "name": "n\x00"}, 400, PARSE),
        ("NUL in motd", {**PROJECT, "motd": "\x00"}, 400, PARSE),
    ],
    "/project/update/<P>": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 400, INVALID_PROJECT),
        ("paused a string", {**PROJECT, "paused": "yes"}, 400, PARSE),
        ("priority > int64", {**PROJECT, "priority": BIG}, 400, PARSE),
        ("rate too slow", {**PROJECT, "submit_rate": 1e-300}, 400, INVALID_PROJECT),
        ("chained to itself", {**PROJECT, "chain": "<P>"}, 400, INVALID_PROJECT),
        ("NUL in git_repo", {**PROJECT, "git_repo": "\x00"}, 400, PARSE),
    ],
    "/project/request_access": [
        *garbage((400, PARSE)),
        ("missing fields", {}, 400, INVALID_REQUEST),
        ("assign a string", {"assign": "yes", "project": "<P>"}, 400, PARSE),
        ("project > int64", {"assign": True, "project": BIG}, 400, PARSE),
        (
            "unknown project",
            {"assign": True, "project": BIG - 1},
            400,
            err(
                "Project is public, you already have an active request or you already have "
                "access to this project"
            ),
        ),
    ],
    "/project/secret/<P>": [
        *garbage((400, PARSE)),
        ("secret a number", {"secret": 5}, 400, PARSE),
        ("secret an object", {"secret": {"a": 1}}, 400, PARSE),
        ("NUL in secret", {"secret": "\x00"}, 400, PARSE),
    ],
    "/project/webhook_secret/<P>": [
        *garbage((400, PARSE)),
        ("webhook_secret a number", {"webhook_secret": 5}, 400, PARSE),
        ("NUL in webhook_secret", {"webhook_secret": "\x00"}, 400, PARSE),
    ],
    "/manager/set_role_for_project/<P>": [
        *garbage((400, PARSE)),
        ("manager a string", {"manager": "1", "role": 1}, 400, PARSE),
        ("manager > int64", {"manager": BIG, "role": 1}, 400, PARSE),
        ("role > int64", {"manager": "<M>", "role": HUGE}, 400, PARSE),
        ("role out of the bitmask", {"manager": "<M>", "role": 99}, 400, INVALID_REQUEST),
        ("unknown manager", {"manager": BIG - 1, "role": 1}, 400, INVALID_REQUEST),
    ],
}

PUSH = {"ref": "refs/heads/master", "after": "v2", "repository": {"full_name": "<REPO>"}}
# (what, body, signed, status, raw reply): the original's bare 400 and plain-text 403.
WEBHOOK_TABLE = [
    ("truncated JSON", TRUNCATED, True, 400, b""),
    ("JSON array", b"[1]", True, 400, b""),
    ("missing fields", {}, True, 400, b""),
    ("after not a string", {**PUSH, "after": 5}, True, 400, b""),
    ("repository a string", {**PUSH, "repository": "x"}, True, 400, b""),
    ("NUL in full_name", {**PUSH, "repository": {"full_name": "<REPO>\x00"}}, True, 400, b""),
    ("NUL in after", {**PUSH, "after": "v\x002"}, True, 400, b""),
    (
        "NUL in full_name, unsigned",
        {**PUSH, "repository": {"full_name": "<REPO>\x00"}},
        False,
        400,
        b"",
    ),
    (
        "lone surrogate in full_name, unsigned",
        {**PUSH, "repository": {"full_name": "<REPO>\ud800"}},
        False,
        400,
        b"",
    ),
    ("other repository", {**PUSH, "repository": {"full_name": "x/y"}}, True, 400, b""),
    ("not master", {**PUSH, "ref": "refs/heads/dev"}, True, 400, b""),
    ("unsigned", PUSH, False, 403, b"Signature does not match"),
]

PATH_TABLE = [
    ("/task/get/abc", err("Invalid project id")),
    ("/task/get/0", err("Invalid project id")),
    ("/task/get/99999999999999999999", err("Invalid project id")),
    ("/worker/get/abc", err("Invalid worker id")),
    ("/worker/get/-1", err("Invalid worker id")),
    ("/project/get/1.5", err("Invalid project id")),
    ("/project/assignees/abc", INVALID_REQUEST),
    ("/project/access_list/0", INVALID_REQUEST),
    ("/project/monitoring/<P>?count=abc", INVALID_REQUEST),
    ("/project/monitoring/<P>?count=1000", INVALID_REQUEST),
    ("/project/monitoring-between/<P>?from=-1&to=5", INVALID_REQUEST),
    ("/project/monitoring-between/<P>?from=1&to=99999999999", INVALID_REQUEST),
    ("/manager/promote/abc", INVALID_REQUEST),
    ("/manager/list_for_project/9223372036854775808", INVALID_REQUEST),
]


def _fill(text: str, setup) -> str:
    # In a JSON body the placeholder is a string ("<P>") that becomes a number.
    manager = Manager.objects.get(user__username="alice").id
    for token, value in (("<P>", setup.project), ("<M>", manager)):
        text = text.replace(f'"{token}"', str(value)).replace(token, str(value))
    return text


def _encode(body: Any, setup) -> bytes:
    if isinstance(body, bytes):
        return body
    return _fill(json.dumps(body), setup).encode()


def _both(setup) -> Tracker:
    # Valid worker headers and the admin's session: every check before the body passes.
    both = Tracker(setup.worker.base, setup.worker.worker_id, setup.worker.secret)
    both.session = setup.admin.session
    return both


def _mismatch(what: str, reply, status: int, expected: Any) -> str | None:
    if isinstance(expected, bytes):
        got: Any = reply.content
    else:
        is_json = reply.headers.get("Content-Type", "").startswith("application/json")
        got = reply.json() if is_json else reply.content
    if (reply.status_code, got) == (status, expected):
        return None
    return (
        f"{what}: expected {status} {expected!r}, got {reply.status_code} {reply.content[:200]!r}"
    )


@pytest.mark.parametrize("endpoint", list(BODY_TABLE))
def test_bad_bodies_get_the_originals_answer(setup, endpoint):
    caller, path = _both(setup), _fill(endpoint, setup)
    wrong = []
    for what, body, status, expected in BODY_TABLE[endpoint]:
        reply = caller.post(path, raw=_encode(body, setup))
        wrong.append(_mismatch(what, reply, status, expected))
    assert [w for w in wrong if w] == []


def test_webhook_garbage_gets_the_originals_answer(setup):
    project = Project.objects.get(pk=setup.project)
    wrong = []
    for what, body, signed, status, expected in WEBHOOK_TABLE:
        raw = _encode(body, setup).replace(b"<REPO>", project.git_repo.encode())
        headers = {}
        if signed:
            digest = hmac.new(project.webhook_secret.encode(), raw, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature"] = "sha1=" + digest
        reply = _both(setup).post("/git/receivehook", raw=raw, headers=headers)
        wrong.append(_mismatch(what, reply, status, expected))
    assert [w for w in wrong if w] == []
    assert Project.objects.get(pk=setup.project).version == project.version


def test_bad_path_ids_and_queries_get_the_originals_answer(setup):
    wrong = []
    for template, expected in PATH_TABLE:
        reply = _both(setup).get(_fill(template, setup))
        wrong.append(_mismatch(template, reply, 400, expected))
    assert [w for w in wrong if w] == []


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
    "project",
    "recipe",
    "priority",
    "max_retries",
    "verification_count",
    "hash_u64",
    "unique_string",
    "max_assign_time",
    "task_id",
    "result",
    "verification",
    "alias",
    "worker",
    "paused",
    "scope",
    "message",
    "timestamp",
    "level",
    "since",
    "username",
    "password",
    "name",
    "public",
    "hidden",
    "chain",
    "assign_rate",
    "submit_rate",
    "assign",
    "submit",
    "secret",
    "webhook_secret",
    "manager",
    "role",
    "requests",
]
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
    if reply.content == b"Signature does not match":
        # The webhook's refusal is plain text, as in the original.
        assert (reply.status_code, reply.headers["Content-Type"][:10]) == (403, "text/plain"), what
    elif reply.content and reply.status_code != 404:
        assert reply.headers["Content-Type"].startswith("application/json"), what
        assert json.loads(reply.content)["ok"] in (True, False), what


def test_garbage_bodies_never_500(setup):
    submit(setup.worker, setup.project)
    both = _both(setup)
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
