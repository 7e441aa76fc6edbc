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
    assert push(tt, "wrong", "a/b").status_code == 403
    secret = Project.objects.get(pk=pid).webhook_secret
    assert push(tt, secret, "c/d").status_code != 200
    assert push(tt, secret, "a/b", ref="refs/heads/dev").status_code != 200
    unsigned = requests.post(tt.base + "/git/receivehook", data=b"{}", timeout=5)
    assert unsigned.status_code != 200
    assert Project.objects.get(pk=pid).version == "1.0"
