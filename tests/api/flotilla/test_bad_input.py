"""Bad input on every Flotilla endpoint gets a 4xx `{"error": …}`, never a 500, and writes
nothing."""

from __future__ import annotations

import json

import pytest

from domain.runs.models import ClusterMetadata, Definition, Run
from tests.api.flotilla.conftest import make_run

pytestmark = pytest.mark.django_db


def bodies_of(hello, run) -> list[tuple[str, str]]:
    """Every write that takes a body."""
    return [
        ("POST", "/api/v1/task"),
        ("PUT", f"/api/v6/task/{hello.pk}"),
        ("PUT", f"/api/v1/task/{hello.pk}/execute"),
        ("PUT", f"/api/v2/task/{hello.pk}/execute"),
        ("PUT", f"/api/v4/task/{hello.pk}/execute"),
        ("PUT", "/api/v1/task/alias/hello/execute"),
        ("PUT", f"/api/v6/{run.pk}/status"),
        ("POST", "/api/v6/clusters"),
        ("PUT", f"/api/v6/clusters/{hello.pk}"),
    ]


GARBAGE = [
    "{not json",
    "[]",
    '"a string"',
    "17",
    "null",
    "",
    "[" * 5000 + "]" * 5000,
    '{"alias": "a\\u0000b", "image": "i", "run_tags": {"owner_id": "x\\u0000"}}',
    '{"alias": "\\ud800", "image": "i"}',
    '{"status": NaN}',
]

WRONG_TYPES = [
    {"alias": 5, "image": "i"},
    {"alias": "a", "image": ["i"]},
    {"alias": "a", "image": "i", "memory": "512"},
    {"alias": "a", "image": "i", "memory": 512.0},
    {"alias": "a", "image": "i", "memory": 10**30},
    {"alias": "a", "image": "i", "memory": -1},
    {"alias": "a", "image": "i", "env": {"A": "B"}},
    {"alias": "a", "image": "i", "env": [{"name": 1, "value": "v"}]},
    {"alias": "a", "image": "i", "tags": "t"},
    {"alias": "a", "image": "i", "ports": [70000]},
    {"alias": "a", "image": "i", "requires_docker": "yes"},
    {"run_tags": "alice"},
    {"run_tags": {"owner_id": 7}},
    {"run_tags": {"owner_id": "a"}, "cpu": 2**63},
    {"run_tags": {"owner_id": "a"}, "active_deadline_seconds": 10**12},
    {"run_tags": {"owner_id": "a"}, "labels": {"k": 1}},
    {"run_tags": {"owner_id": "a"}, "spark_extension": {"x": 1}},
    {"run_tags": {"owner_id": "a"}, "engine": "eks-spark"},
    {"run_tags": {"owner_id": "a"}, "env": [{"name": "A=B", "value": "v"}]},
    {"status": "STOPPED", "exit_code": 2**64},
    {"status": ["STOPPED"]},
    {"name": "c", "allowed_tiers": "Tier1"},
]


def snapshot() -> tuple:
    return (
        sorted(Definition.objects.values_list("alias", "command", "memory")),
        sorted(Run.objects.values_list("run_id", "status")),
        ClusterMetadata.objects.count(),
    )


def test_garbage_bodies_are_400_everywhere(dev, hello):
    run = make_run(hello)
    before = snapshot()
    for method, path in bodies_of(hello, run):
        for raw in GARBAGE:
            reply = dev.send(method, path, raw=raw)
            assert reply.status_code in (400, 404), (method, path, raw[:40], reply.content)
            assert set(reply.json()) == {"error"}, (method, path, raw[:40])
    assert snapshot() == before


def test_wrong_types_and_out_of_range_numbers_never_500_anywhere(dev, hello):
    run = make_run(hello)
    before = snapshot()
    for method, path in bodies_of(hello, run):
        for body in WRONG_TYPES:
            reply = dev.send(method, path, raw=json.dumps(body))
            assert reply.status_code in (400, 404, 409) or reply.status_code == 200, (
                method,
                path,
                body,
            )
            assert reply.status_code != 500
            assert "error" in reply.json() or reply.status_code == 200
    # Where a body had a wrong type for a field the endpoint reads, nothing was written.
    assert snapshot()[2] == before[2]


@pytest.mark.parametrize("body", WRONG_TYPES[:11])
def test_a_definition_with_a_wrong_field_is_refused_and_not_written(dev, db, body):
    reply = dev.post("/api/v1/task", body)
    assert reply.status_code == 400, reply.content
    assert set(reply.json()) == {"error"}
    assert not Definition.objects.exists()


@pytest.mark.parametrize("body", WRONG_TYPES[11:19])
def test_an_execute_with_a_wrong_field_is_refused_and_not_written(dev, hello, body):
    reply = dev.put(f"/api/v6/task/{hello.pk}/execute", body)
    assert reply.status_code == 400, reply.content
    assert set(reply.json()) == {"error"}
    assert not Run.objects.exists()


def test_a_huge_body_is_413(dev, hello):
    reply = dev.post("/api/v1/task", raw=json.dumps({"alias": "a", "image": "i" * 5_000_000}))
    assert reply.status_code == 413
    assert set(reply.json()) == {"error"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/task/a%00b",
        "/api/v1/history/eks%00",
        "/api/v1/task?alias=a%00",
        "/api/v1/history?status%00=QUEUED",
        "/api/v6/eks%00/status",
        "/api/v1/eks%00/logs",
    ],
)
def test_a_nul_in_the_path_or_query_is_400(anon, db, path):
    reply = anon.client.get(path)
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}


def test_unknown_ids_are_404_in_the_family_envelope(anon, dev, db):
    for reply in (
        anon.get("/api/v1/task/none"),
        anon.get("/api/v6/task/alias/none"),
        anon.get("/api/v1/task/none/history"),
        anon.get("/api/v1/history/none"),
        anon.get("/api/v1/none/logs"),
        anon.get("/api/v1/none/events"),
        anon.get("/api/v6/none/status"),
        anon.get("/api/v6/clusters/none"),
        dev.put("/api/v1/task/none", {"command": "x"}),
        dev.delete("/api/v1/task/none"),
        dev.put("/api/v6/task/none/execute", {"run_tags": {"owner_id": "a"}}),
        dev.delete("/api/v1/task/none/history/none"),
        dev.put("/api/v1/none/status", {"status": "RUNNING"}),
        dev.put("/api/v6/clusters/none", {"region": "x"}),
        dev.delete("/api/v6/clusters/none"),
    ):
        assert reply.status_code == 404, reply.content
        assert set(reply.json()) == {"error"}


def test_a_long_id_is_a_plain_404(anon, db):
    assert anon.get("/api/v1/history/" + "x" * 5000).status_code == 404
