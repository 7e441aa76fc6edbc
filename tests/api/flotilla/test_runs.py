"""Execute, history, run detail, stop and the legacy status report over the API (spec B.4,
B.6, B.7; acceptance scenarios 3, 4, 6 and 10 of B.11)."""

from __future__ import annotations

import pytest

from domain.executions.models import Execution, ExecutionState
from domain.runs.models import Run, RunStatus
from tests.api.flotilla.conftest import force_status, make_run

pytestmark = pytest.mark.django_db

V4_BODY = {
    "run_tags": {"owner_id": "alice"},
    "env": [{"name": "K1", "value": "V1"}],
    "command": "echo override",
    "cpu": 1000,
    "service_account": "reporting",
}


def test_it_executes_by_id_and_records_owner_token_and_effective_env(dev, hello):
    # Spec B.11 scenario 3.
    reply = dev.put(f"/api/v6/task/{hello.pk}/execute", V4_BODY)
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert body["status"] == "QUEUED"
    assert body["user"] == "alice"
    assert body["token_name"] == "Bob the developer"
    assert body["queued_at"]
    assert (body["command"], body["cpu"], body["service_account"]) == (
        "echo override",
        1000,
        "reporting",
    )
    env = {item["name"]: item["value"] for item in body["env"]}
    # The full effective env (issue #58): the definition's, the request's and the reserved.
    assert env["K1"] == "V1"
    assert env["GREETING"] == "hi"
    assert env["FLOTILLA_RUN_OWNER_ID"] == "alice"
    assert env["FLOTILLA_RUN_ID"] == body["run_id"]
    run = Run.objects.get(pk=body["run_id"])
    assert run.token_name == "Bob the developer"
    assert Execution.objects.get(pk=run.execution_id).state == ExecutionState.QUEUED


def test_it_executes_by_alias_at_v1_and_v6(dev, hello):
    for version in ("v1", "v6"):
        reply = dev.put(f"/api/{version}/task/alias/hello/execute", V4_BODY)
        assert reply.status_code == 200, reply.content
        assert reply.json()["definition_id"] == hello.pk
    assert Run.objects.count() == 2


def test_v4_executes_like_v6(dev, hello):
    assert dev.put(f"/api/v4/task/{hello.pk}/execute", V4_BODY).json()["user"] == "alice"


def test_the_legacy_v1_execute_records_an_unknown_owner(dev, hello):
    reply = dev.put(f"/api/v1/task/{hello.pk}/execute", {"cluster": "default", "env": []})
    assert reply.status_code == 200, reply.content
    assert reply.json()["user"] == "v1-unknown"
    assert reply.json()["cluster"] == "default"


def test_v2_takes_the_owner_email_and_needs_the_team(dev, hello):
    tags = {"owner_email": "alice@example.com", "team_name": "data"}
    reply = dev.put(f"/api/v2/task/{hello.pk}/execute", {"run_tags": tags})
    assert reply.status_code == 200, reply.content
    assert reply.json()["user"] == "alice@example.com"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/v2/task/{id}/execute", {"run_tags": {"owner_email": "a@b.c"}}, "team_name"),
        ("/api/v2/task/{id}/execute", {}, "owner_email"),
        ("/api/v6/task/{id}/execute", {"run_tags": {"owner_email": "a@b.c"}}, "owner_id"),
        ("/api/v4/task/{id}/execute", {"run_tags": {"owner_id": ""}}, "owner_id"),
        ("/api/v6/task/alias/hello/execute", {"run_tags": None}, "owner_id"),
        (
            "/api/v6/task/{id}/execute",
            {"run_tags": {"owner_id": "a"}, "node_lifecycle": "normal"},
            "node_lifecycle",
        ),
    ],
)
def test_it_refuses_an_execute_missing_what_its_version_needs(dev, hello, path, body, message):
    # Spec B.11 scenario 4.
    reply = dev.put(path.format(id=hello.pk), body)
    assert reply.status_code == 400
    assert message in reply.json()["error"]
    assert not Run.objects.exists()


def test_it_reads_keys_case_insensitively_and_ignores_unknown_ones(dev, hello):
    body = {
        "RUN_TAGS": {"OWNER_ID": "alice", "Unknown": 1},
        "Command": "echo loud",
        "ENV": [{"NAME": "K", "Value": "v"}],
        "colour": "blue",
    }
    reply = dev.put(f"/api/v6/task/{hello.pk}/execute", body)
    assert reply.status_code == 200, reply.content
    run = reply.json()
    assert (run["user"], run["command"]) == ("alice", "echo loud")
    assert {"name": "K", "value": "v"} in run["env"]


def test_the_last_of_two_spellings_of_a_key_wins(dev, hello):
    body = {"run_tags": {"owner_id": "first", "OWNER_ID": "second"}}
    assert dev.put(f"/api/v6/task/{hello.pk}/execute", body).json()["user"] == "second"


def test_an_unknown_definition_is_404(dev, db):
    reply = dev.put("/api/v6/task/nope/execute", V4_BODY)
    assert reply.status_code == 404
    assert reply.json() == {"error": "Definition with ID nope not found"}
    assert dev.put("/api/v6/task/alias/nope/execute", V4_BODY).status_code == 404


def test_an_idempotence_key_returns_the_same_run(dev, hello):
    body = {**V4_BODY, "idempotence_key": "nightly"}
    first = dev.put(f"/api/v6/task/{hello.pk}/execute", body).json()
    again = dev.put(f"/api/v6/task/{hello.pk}/execute", body).json()
    assert first["run_id"] == again["run_id"]
    assert Run.objects.count() == 1


def test_the_run_detail_is_served_at_every_path(anon, hello):
    run = make_run(hello)
    paths = [
        f"/api/v1/history/{run.pk}",
        f"/api/v6/history/{run.pk}",
        f"/api/v1/task/history/{run.pk}",
        f"/api/v1/task/{hello.pk}/history/{run.pk}",
        f"/api/v6/task/{hello.pk}/history/{run.pk}",
    ]
    for path in paths:
        reply = anon.get(path)
        assert reply.status_code == 200, path
        body = reply.json()
        assert body["run_id"] == run.pk
        assert body["description"] == "hello"
        assert body["executable_type"] == "task_definition"
        assert body["pod_events"][0]["reason"] == "queued"
        # Unknown fields are left out, as the original's omitempty did.
        assert "exit_code" not in body and "started_at" not in body
    assert anon.get(f"/api/v1/task/other/history/{run.pk}").status_code == 404
    assert anon.get("/api/v1/history/eks-nope").json() == {
        "error": "Run with id eks-nope not found"
    }


def test_history_filters_statuses_cluster_and_env_and_echoes_them(anon, hello):
    # Spec B.11 scenario 6.
    running = force_status(make_run(hello, env=[("E1", "V1")]), RunStatus.RUNNING)
    force_status(make_run(hello), RunStatus.STOPPED, exit_code=0)
    make_run(hello, env=[("E1", "V1")])
    query = {"status": ["RUNNING", "STOPPED"], "cluster": "default", "env": "E1|V1"}
    reply = anon.get("/api/v1/history", query)
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert [run["run_id"] for run in body["history"]] == [running.pk]
    assert body["status"] == ["RUNNING", "STOPPED"]
    assert body["cluster"] == ["default"]
    assert body["env_filters"] == {"E1": "V1"}
    assert (body["total"], body["limit"], body["offset"]) == (1, 1024, 0)
    assert (body["sort_by"], body["order"]) == ("group_name", "asc")


def test_history_refuses_an_invalid_status_and_an_unknown_definition(anon, hello):
    reply = anon.get("/api/v1/history", {"status": "SUCCESS"})
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid status [SUCCESS]"}
    assert anon.get("/api/v1/history", {"definition_id": "nope"}).status_code == 404
    assert anon.get("/api/v1/task/nope/history").status_code == 404


def test_history_of_a_definition_and_time_windows(anon, hello):
    run = force_status(make_run(hello), RunStatus.STOPPED, exit_code=0)
    Run.objects.filter(pk=run.pk).update(started_at="2024-01-02T00:00:00Z")
    found = lambda **q: anon.get(f"/api/v6/task/{hello.pk}/history", q).json()["total"]  # noqa: E731
    assert found() == 1
    assert found(started_at_since="2024-01-01") == 1
    assert found(started_at_since="2024-01-03T00:00:00+01:00") == 0
    assert found(started_at_until="2024-01-02T00:00:01Z") == 1
    assert found(exit_reason="x") == 0
    assert (
        anon.get(f"/api/v6/task/{hello.pk}/history", {"started_at_since": "soon"}).status_code
        == 400
    )


@pytest.mark.parametrize(
    "query",
    [
        {"sort_by": "alias"},
        {"order": "up"},
        {"exit_code": "zero"},
        {"queued_at_until": "2024-13-01"},
        {"nothing": "x"},
    ],
)
def test_history_refuses_a_bad_query_with_400(anon, hello, query):
    reply = anon.get("/api/v1/history", query)
    assert reply.status_code == 400, reply.content
    assert set(reply.json()) == {"error"}


def test_history_sorts_with_nulls_last(anon, hello):
    early = force_status(make_run(hello), RunStatus.RUNNING, started_at="2024-01-01T00:00:00Z")
    late = force_status(make_run(hello), RunStatus.RUNNING, started_at="2024-02-01T00:00:00Z")
    never = make_run(hello)
    for order, expected in (("asc", [early, late, never]), ("desc", [late, early, never])):
        body = anon.get("/api/v1/history", {"sort_by": "started_at", "order": order}).json()
        assert [r["run_id"] for r in body["history"]] == [r.pk for r in expected]


def test_stop_terminates_a_queued_run_naming_who_asked(dev, hello):
    run = make_run(hello)
    reply = dev.delete(
        f"/api/v1/task/{hello.pk}/history/{run.pk}",
        headers={"X-Forwarded-Email": "bob@example.com"},
    )
    assert reply.status_code == 200
    assert reply.json() == {"terminated": True}
    run.refresh_from_db()
    assert (run.status, run.exit_code) == ("STOPPED", 1)
    assert run.exit_reason == "Task terminated by - bob@example.com"


def test_stop_of_an_unknown_run_is_404(dev, hello):
    assert dev.delete(f"/api/v1/task/{hello.pk}/history/eks-nope").status_code == 404


def test_the_legacy_status_report_moves_forward_only(dev, hello):
    run = make_run(hello)
    reply = dev.put(f"/api/v1/{run.pk}/status", {"status": "RUNNING"})
    assert reply.status_code == 200
    assert reply.json() == {"updated": True}
    reply = dev.put(f"/api/v6/{run.pk}/status", {"status": "STOPPED", "exit_code": 0})
    assert reply.status_code == 200
    dev.put(f"/api/v1/{run.pk}/status", {"status": "RUNNING"})
    run.refresh_from_db()
    assert (run.status, run.exit_code) == ("STOPPED", 0)


@pytest.mark.parametrize(
    "body", [{"status": "DONE"}, {}, {"status": 3}, {"status": "STOPPED", "exit_code": "0"}]
)
def test_the_legacy_status_report_refuses_bad_bodies(dev, hello, body):
    run = make_run(hello)
    reply = dev.put(f"/api/v1/{run.pk}/status", body)
    assert reply.status_code == 400, reply.content
    run.refresh_from_db()
    assert run.status == "QUEUED"


def test_the_legacy_status_report_of_an_unknown_run_is_404(dev, db):
    assert dev.put("/api/v1/eks-nope/status", {"status": "RUNNING"}).status_code == 404
