"""/log/*, /logs and /git/receivehook: spec §4 and §5 Logs, Git."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests

from domain.tracker.models import LogEntry, Project
from tests.api.tracker.conftest import make_project, make_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("level", ["trace", "info", "warn", "error"])
def test_valid_log_answers_204(tt, level):
    worker = make_worker(tt)
    reply = worker.post(f"/log/{level}", {"scope": "s", "message": "m", "timestamp": 1000})
    assert (reply.status_code, reply.content) == (204, b"")


def test_trace_is_not_stored_but_info_is(tt):
    worker = make_worker(tt)
    worker.post("/log/trace", {"scope": "s", "message": "t", "timestamp": 1000})
    worker.post("/log/info", {"scope": "s", "message": "i", "timestamp": 1000})
    assert list(LogEntry.objects.values_list("message", flat=True)) == ["i"]


@pytest.mark.parametrize(
    "body",
    [
        {"message": "m", "timestamp": 1},
        {"scope": "s", "timestamp": 1},
        {"scope": "s", "message": "m"},
        {"scope": "s", "message": "m", "timestamp": "1"},
    ],
)
def test_invalid_log(tt, body):
    worker = make_worker(tt)
    reply = worker.post("/log/warn", body)
    assert (reply.status_code, reply.json()) == (
        400,
        {"ok": False, "message": "Could not parse request"},
    )


def test_logs_filter_by_level_and_since(tt):
    worker = make_worker(tt)
    worker.post("/log/error", {"scope": "s", "message": "old", "timestamp": 100})
    worker.post("/log/error", {"scope": "s", "message": "new", "timestamp": 200})
    worker.post("/log/info", {"scope": "s", "message": "info", "timestamp": 300})
    logs = tt.post("/logs", {"level": 3, "since": 150}).json()["content"]["logs"]
    assert [entry["message"] for entry in logs] == ["new"]
    assert json.loads(logs[0]["data"]) == {"scope": "s", "worker": worker.worker_id}
    assert tt.post("/logs", {"level": 6, "since": 1}).json() == {
        "ok": True,
        "content": {"logs": None},
    }
    reply = tt.post("/logs", {"level": 3, "since": 0})
    assert (reply.status_code, reply.json()["message"]) == (400, "Invalid log request")


def push(
    tt, secret: str, repo: str, ref="refs/heads/master", header="X-Hub-Signature", algo=hashlib.sha1
):
    body = json.dumps({"ref": ref, "after": "abc123", "repository": {"full_name": repo}}).encode()
    signature = "sha1=" + hmac.new(secret.encode(), body, algo).hexdigest()
    return requests.post(
        tt.base + "/git/receivehook", data=body, headers={header: signature}, timeout=5
    )


def test_webhook_updates_version_with_a_correct_signature(tt, admin):
    pid = make_project(admin, "hooked", git_repo="Simon/Repo")
    secret = Project.objects.get(pk=pid).webhook_secret
    reply = push(tt, secret, "simon/repo")
    assert (reply.status_code, reply.content) == (200, b"")
    assert Project.objects.get(pk=pid).version == "abc123"


def test_webhook_sha256_gogs_header(tt, admin):
    pid = make_project(admin, "gogs", git_repo="a/b")
    secret = Project.objects.get(pk=pid).webhook_secret
    reply = push(tt, secret, "a/b", header="X-Gogs-Signature", algo=hashlib.sha256)
    assert reply.status_code == 200
    assert Project.objects.get(pk=pid).version == "abc123"


def test_webhook_refuses_bad_signatures_and_other_repos(tt, admin):
    pid = make_project(admin, "hooked", git_repo="a/b")
    reply = push(tt, "wrong", "a/b")
    # The original's own answer: plain text, not the JSON envelope.
    assert (reply.status_code, reply.content) == (403, b"Signature does not match")
    secret = Project.objects.get(pk=pid).webhook_secret
    other_repo = push(tt, secret, "c/d")
    assert (other_repo.status_code, other_repo.content) == (400, b"")
    assert push(tt, secret, "a/b", ref="refs/heads/dev").status_code == 400
    unsigned = requests.post(tt.base + "/git/receivehook", data=b"{}", timeout=5)
    assert (unsigned.status_code, unsigned.content) == (400, b"")
    assert Project.objects.get(pk=pid).version == "1.0"


def signed_post(tt, secret: str, payload: dict | bytes, signed: bool = True):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signed:
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, "sha1").hexdigest()
    return requests.post(tt.base + "/git/receivehook", data=body, headers=headers, timeout=5)


MASTER = "refs/heads/master"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize(
    "payload",
    [
        {"ref": MASTER, "after": "v2", "repository": {"full_name": "a/b\u0000"}},
        {"ref": MASTER, "after": "v2", "repository": {"full_name": "a/b\ud800"}},
        {"ref": MASTER, "after": "v\u00002", "repository": {"full_name": "a/b"}},
        {"ref": MASTER + "\u0000", "after": "v2", "repository": {"full_name": "a/b"}},
        {"ref": MASTER, "after": 2, "repository": {"full_name": "a/b"}},
        {"ref": MASTER, "after": "v2", "repository": {"full_name": ["a/b"]}},
        {"ref": MASTER, "after": "v2", "repository": "a/b"},
        b'{"ref": "refs/heads/master", "after": "v2", "repository": {"full_name": "a/b"',
        b"[]",
    ],
    ids=[
        "NUL in full_name",
        "lone surrogate in full_name",
        "NUL in after",
        "NUL in ref",
        "after not a string",
        "full_name not a string",
        "repository not an object",
        "truncated JSON",
        "not an object",
    ],
)
def test_webhook_garbage_is_the_originals_bare_400(tt, admin, payload, signed):
    # Correctly signed or not, a payload that cannot be decoded (or names no project once
    # cleaned) is refused before the database sees it: never a 500.
    pid = make_project(admin, "hooked", git_repo="a/b")
    secret = Project.objects.get(pk=pid).webhook_secret
    # json.dumps writes NUL and the lone surrogate as the escapes \u0000 and \ud800.
    reply = signed_post(tt, secret, payload, signed=signed)
    assert (reply.status_code, reply.content) == (400, b"")
    assert Project.objects.get(pk=pid).version == "1.0"


def test_webhook_lone_surrogate_in_after_is_replaced_as_go_does(tt, admin):
    pid = make_project(admin, "hooked", git_repo="a/b")
    secret = Project.objects.get(pk=pid).webhook_secret
    body = b'{"ref": "refs/heads/master", "after": "v\\ud8002", "repository": {"full_name": "a/b"}}'
    reply = signed_post(tt, secret, body)
    assert (reply.status_code, reply.content) == (200, b"")
    assert Project.objects.get(pk=pid).version == "v\ufffd2"
