"""Who may call the Flotilla family: writes need an admin or dev token (or the trusted proxy's
user); reads are open unless RUNS_PRIVATE_READS."""

from __future__ import annotations

import pytest

from domain.runs.models import ClusterMetadata, Definition, Run
from tests.api.flotilla.conftest import make_run
from tests.support.api_client import Api

pytestmark = pytest.mark.django_db

DEFINITION = {"alias": "report", "image": "ubuntu", "group_name": "g", "command": "true"}
RUN_TAGS = {"run_tags": {"owner_id": "alice"}}


def writes(hello, run) -> list[tuple[str, str, dict | None]]:
    return [
        ("POST", "/api/v1/task", DEFINITION),
        ("PUT", f"/api/v1/task/{hello.pk}", {"command": "false"}),
        ("DELETE", f"/api/v6/task/{hello.pk}", None),
        ("PUT", f"/api/v6/task/{hello.pk}/execute", RUN_TAGS),
        ("PUT", f"/api/v1/task/{hello.pk}/execute", {}),
        (
            "PUT",
            f"/api/v2/task/{hello.pk}/execute",
            {"run_tags": {"owner_email": "a", "team_name": "t"}},
        ),
        ("PUT", "/api/v6/task/alias/hello/execute", RUN_TAGS),
        ("DELETE", f"/api/v1/task/{hello.pk}/history/{run.pk}", None),
        ("PUT", f"/api/v1/{run.pk}/status", {"status": "RUNNING"}),
        ("POST", "/api/v6/clusters", {"name": "blue"}),
    ]


def state(hello) -> tuple:
    return (
        Definition.objects.count(),
        Definition.objects.get(pk=hello.pk).command,
        Run.objects.count(),
        sorted(Run.objects.values_list("status", flat=True)),
        ClusterMetadata.objects.count(),
    )


def test_a_write_without_a_token_is_401_and_changes_nothing(anon, hello):
    run = make_run(hello)
    before = state(hello)
    for method, path, body in writes(hello, run):
        reply = anon.send(method, path, body)
        assert reply.status_code == 401, (method, path)
        assert set(reply.json()) == {"error"}
    assert state(hello) == before


def test_a_write_with_an_unknown_token_is_401(hello):
    stranger = Api("rg_not-a-real-token")
    assert stranger.post("/api/v1/task", DEFINITION).status_code == 401


def test_a_user_role_token_may_read_but_not_write(user, hello):
    run = make_run(hello)
    before = state(hello)
    for method, path, body in writes(hello, run):
        reply = user.send(method, path, body)
        assert reply.status_code == 403, (method, path)
        assert set(reply.json()) == {"error"}
    assert state(hello) == before
    assert user.get(f"/api/v1/task/{hello.pk}").status_code == 200


def test_an_admin_may_write(admin, hello):
    reply = admin.put(f"/api/v6/task/{hello.pk}/execute", RUN_TAGS)
    assert reply.status_code == 200
    assert reply.json()["token_name"] == "Alice the admin"


def test_reads_are_open_by_default(anon, hello):
    run = make_run(hello)
    for path in (
        "/api/v1/task",
        f"/api/v1/task/{hello.pk}",
        "/api/v1/history",
        f"/api/v1/history/{run.pk}",
        f"/api/v1/{run.pk}/logs",
        f"/api/v6/{run.pk}/status",
        "/api/v1/groups",
        "/api/v6/clusters",
    ):
        assert anon.get(path).status_code == 200, path


def test_private_reads_need_a_valid_token(anon, user, hello, monkeypatch):
    monkeypatch.setenv("RUNS_PRIVATE_READS", "true")
    run = make_run(hello)
    for path in ("/api/v1/task", f"/api/v1/history/{run.pk}", f"/api/v1/{run.pk}/logs"):
        assert anon.get(path).status_code == 401, path
        assert Api("rg_wrong").get(path).status_code == 401, path
        assert user.get(path).status_code == 200, path
    # Health is for load balancers: always open.
    assert anon.get("/api/v6/health").status_code == 200


def test_the_trusted_proxy_header_counts_as_a_dev_caller_when_set(anon, hello, monkeypatch):
    header = {"X-Forwarded-User": "carol@example.com"}
    path = f"/api/v6/task/{hello.pk}/execute"
    assert anon.put(path, RUN_TAGS, headers=header).status_code == 401
    monkeypatch.setenv("RUNS_TRUSTED_USER_HEADER", "X-Forwarded-User")
    reply = anon.put(path, RUN_TAGS, headers=header)
    assert reply.status_code == 200, reply.content
    assert reply.json()["token_name"] == "carol@example.com"
    assert Run.objects.get(pk=reply.json()["run_id"]).token_name == "carol@example.com"
    # Without the header, still no credential.
    assert anon.put(path, RUN_TAGS).status_code == 401


def test_the_trusted_proxy_header_opens_private_reads(anon, hello, monkeypatch):
    monkeypatch.setenv("RUNS_PRIVATE_READS", "true")
    monkeypatch.setenv("RUNS_TRUSTED_USER_HEADER", "X-Forwarded-User")
    assert anon.get("/api/v1/task").status_code == 401
    assert anon.get("/api/v1/task", headers={"X-Forwarded-User": "carol"}).status_code == 200
