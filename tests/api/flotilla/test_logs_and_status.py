"""Logs paged by `last_seen`, the raw text stream, events, and the v6 slim status with its
ETag (spec B.7; acceptance scenario 10 of B.11). Log lines are written as the executions
domain writes them: LogChunk rows of the run's current execution."""

from __future__ import annotations

import pytest

from domain.executions.models import Execution, LogChunk
from domain.runs.models import RunStatus
from tests.api.flotilla.conftest import force_status, make_run

pytestmark = pytest.mark.django_db


def write_log(run, lines: list[str], chunk_lines: int = 100) -> None:
    execution = Execution.objects.get(pk=run.execution_id)
    for first in range(0, len(lines), chunk_lines):
        part = lines[first : first + chunk_lines]
        LogChunk.objects.create(
            execution=execution,
            first_line=first,
            line_count=len(part),
            text="".join(line + "\n" for line in part),
        )


def test_it_pages_the_log_by_last_seen_until_the_token_stops_changing(anon, hello):
    run = make_run(hello)
    lines = [f"line {n}" for n in range(1000)]
    write_log(run, lines)
    token, text, calls = "", "", 0
    while True:
        reply = anon.get(f"/api/v1/{run.pk}/logs", {"last_seen": token})
        assert reply.status_code == 200
        body = reply.json()
        assert body["log"].count("\n") <= 256
        calls += 1
        if body["last_seen"] == token:
            assert body["log"] == ""
            break
        text += body["log"]
        token = body["last_seen"]
    assert text == "".join(line + "\n" for line in lines)
    assert calls == 5  # four pages of at most 256 lines, then the unchanged token


def test_an_empty_log_answers_an_empty_page(anon, hello):
    run = make_run(hello)
    assert anon.get(f"/api/v6/{run.pk}/logs").json() == {"log": "", "last_seen": "0"}


def test_raw_text_streams_the_whole_log(anon, hello):
    run = make_run(hello)
    write_log(run, ["+ echo hi", "hi"], chunk_lines=1)
    reply = anon.get(f"/api/v1/{run.pk}/logs", {"raw_text": "true"})
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/plain")
    assert b"".join(reply.streaming_content) == b"+ echo hi\nhi\n"


@pytest.mark.parametrize("token", ["abc", "-1", "1e3", "9" * 40])
def test_a_token_this_server_never_issued_is_400(anon, hello, token):
    run = make_run(hello)
    reply = anon.get(f"/api/v1/{run.pk}/logs", {"last_seen": token})
    assert reply.status_code == 400
    assert "last_seen" in reply.json()["error"]


def test_logs_and_events_of_an_unknown_run_are_404(anon, db):
    assert anon.get("/api/v1/eks-nope/logs").status_code == 404
    assert anon.get("/api/v1/eks-nope/events").status_code == 404
    assert anon.get("/api/v6/eks-nope/status").status_code == 404


def test_events_are_the_current_attempts(anon, hello):
    run = make_run(hello)
    body = anon.get(f"/api/v6/{run.pk}/events").json()
    assert body["total"] == 1
    event = body["pod_events"][0]
    assert (event["reason"], event["event_type"], event["source_object"]) == (
        "queued",
        "Normal",
        run.pk,
    )


def test_the_slim_status_carries_an_etag_and_answers_304_when_it_matches(anon, hello):
    run = make_run(hello)
    reply = anon.get(f"/api/v6/{run.pk}/status")
    assert reply.status_code == 200
    assert reply["ETag"] == '"QUEUED-unknown"'
    assert reply["Cache-Control"] == "max-age=5"
    assert reply.json()["cluster_name"] == "default"
    assert set(reply.json()) >= {"run_id", "status", "queued_at", "engine", "alias"}
    again = anon.get(f"/api/v6/{run.pk}/status", headers={"If-None-Match": '"QUEUED-unknown"'})
    assert again.status_code == 304
    assert again.content == b""
    force_status(run, RunStatus.STOPPED, exit_code=0)
    changed = anon.get(f"/api/v6/{run.pk}/status", headers={"If-None-Match": '"QUEUED-unknown"'})
    assert changed.status_code == 200
    assert changed["ETag"] == '"STOPPED-0"'
    assert changed.json()["exit_code"] == 0


def test_groups_and_tags_are_real_distinct_values(anon, dev, hello):
    for alias, group, tags in (("a", "cupcake", ["x", "y"]), ("b", "cupcake", ["y"])):
        body = {"alias": alias, "image": "i", "group_name": group, "tags": tags}
        assert dev.post("/api/v1/task", body).status_code == 200
    groups = anon.get("/api/v1/groups").json()
    assert groups == {"total": 2, "groups": ["cupcake", "testing"], "limit": 1024, "offset": 0}
    assert anon.get("/api/v6/groups", {"name": "cup"}).json()["groups"] == ["cupcake"]
    tags = anon.get("/api/v1/tags").json()
    assert (tags["total"], tags["tags"]) == (3, ["greeting", "x", "y"])
    page = anon.get("/api/v6/tags", {"limit": 1, "offset": 1}).json()
    assert page["tags"] == ["x"]


def test_health(anon, db):
    assert anon.get("/api/v6/health").json() == {"status": "healthy", "message": "OK"}


def test_clusters_crud(anon, dev, db):
    body = {"name": "blue", "allowed_tiers": ["Tier1"], "capabilities": ["shared-pool"]}
    created = dev.post("/api/v6/clusters", body)
    assert created.status_code == 200, created.content
    assert created.json()["created"] is True
    cluster_id = created.json()["id"]
    assert dev.post("/api/v6/clusters", body).status_code == 409
    listed = anon.get("/api/v6/clusters").json()
    assert [c["name"] for c in listed["clusters"]] == ["blue"]
    assert listed["total"] == 1
    reply = dev.put(f"/api/v6/clusters/{cluster_id}", {"status": "maintenance", "Region": "eu"})
    assert reply.json() == {"updated": True}
    one = anon.get(f"/api/v6/clusters/{cluster_id}").json()
    assert (one["status"], one["region"], one["allowed_tiers"]) == ("maintenance", "eu", ["Tier1"])
    assert dev.delete(f"/api/v6/clusters/{cluster_id}").json() == {"deleted": True}
    assert anon.get(f"/api/v6/clusters/{cluster_id}").status_code == 404
    assert dev.delete(f"/api/v6/clusters/{cluster_id}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "c", "status": "broken"},
        {"name": "c", "capabilities": ["flying"]},
        {"name": 5},
        {"status": "active"},
    ],
)
def test_clusters_refuse_bad_bodies(dev, db, body):
    reply = dev.post("/api/v6/clusters", body)
    assert reply.status_code == 400, reply.content
    assert set(reply.json()) == {"error"}


def test_v1_lists_the_cluster_names_this_deployment_runs_on(anon, db):
    assert anon.get("/api/v1/clusters").json() == {"clusters": ["default"]}
