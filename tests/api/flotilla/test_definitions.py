"""Task definitions over the API: spec B.3 and acceptance scenarios 1, 2 and 5 of B.11."""

from __future__ import annotations

import re

import pytest

from domain.runs.models import Definition, Run, RunStatus
from tests.api.flotilla.conftest import force_status, make_run

pytestmark = pytest.mark.django_db

NEW = {
    "alias": "nightly-report",
    "group_name": "cupcake",
    "command": "echo report",
    "image": "library/ubuntu:latest",
    "memory": 1024,
    "env": [{"name": "E1", "value": "V1"}],
    "tags": ["reports", "nightly"],
}


def test_it_creates_a_definition_whose_id_starts_with_its_group(dev):
    reply = dev.post("/api/v1/task", NEW)
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert re.fullmatch(r"cupcake-[0-9a-f-]{36}", body["definition_id"])
    assert body["alias"] == "nightly-report"
    assert body["env"] == [{"name": "E1", "value": "V1"}]
    assert body["tags"] == ["nightly", "reports"]
    assert body["memory"] == 1024
    assert Definition.objects.filter(pk=body["definition_id"]).exists()


def test_it_serves_the_same_definitions_at_v6(dev, hello):
    reply = dev.get(f"/api/v6/task/{hello.pk}")
    assert reply.status_code == 200
    assert reply.json()["alias"] == "hello"
    assert dev.post("/api/v6/task", NEW).status_code == 200


def test_it_refuses_a_definition_without_image_or_alias_with_both_reasons(dev):
    reply = dev.post("/api/v1/task", {"alias": "", "image": "", "group_name": "g"})
    assert reply.status_code == 400
    assert "error" in reply.json()
    assert not Definition.objects.exists()


def test_it_refuses_a_taken_alias_with_409(dev, hello):
    reply = dev.post("/api/v1/task", {**NEW, "alias": "hello"})
    assert reply.status_code == 409
    assert reply.json() == {"error": "definition with alias [hello] already exists"}
    assert Definition.objects.count() == 1


def test_it_gets_a_definition_by_id_and_by_alias(anon, hello):
    by_id = anon.get(f"/api/v1/task/{hello.pk}").json()
    by_alias = anon.get("/api/v1/task/alias/hello").json()
    assert by_id == by_alias
    assert by_id["env"] == [
        {"name": "GREETING", "value": "hi"},
        {"name": "SHARED", "value": "from-definition"},
    ]


def test_it_answers_an_unknown_definition_with_404_in_the_family_envelope(anon):
    reply = anon.get("/api/v1/task/nope-123")
    assert reply.status_code == 404
    assert reply.json() == {"error": "Definition with ID nope-123 not found"}
    assert anon.get("/api/v1/task/alias/nope").status_code == 404


def test_it_merges_an_update_keeping_what_is_missing_null_or_empty(dev, hello):
    reply = dev.put(
        f"/api/v1/task/{hello.pk}",
        {"alias": "", "image": None, "command": "echo bye", "tags": ["x"], "memory": 2048},
    )
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert body["alias"] == "hello"
    assert body["image"] == "library/ubuntu:latest"
    assert body["command"] == "echo bye"
    assert body["tags"] == ["x"]
    assert body["memory"] == 2048
    # Lists are replaced whole; env was not given, so it is kept.
    assert len(body["env"]) == 2


def test_it_refuses_an_update_to_a_taken_alias(dev, hello):
    other = dev.post("/api/v1/task", NEW).json()
    reply = dev.put(f"/api/v1/task/{other['definition_id']}", {"alias": "hello"})
    assert reply.status_code == 409
    assert Definition.objects.get(pk=other["definition_id"]).alias == "nightly-report"


def test_it_deletes_a_definition_and_its_finished_runs(dev, hello):
    run = force_status(make_run(hello), RunStatus.STOPPED, exit_code=0)
    reply = dev.delete(f"/api/v1/task/{hello.pk}")
    assert reply.status_code == 200
    assert reply.json() == {"deleted": True}
    assert dev.get(f"/api/v1/task/{hello.pk}").status_code == 404
    assert not Run.objects.filter(pk=run.pk).exists()


@pytest.mark.parametrize("status", ["QUEUED", "PENDING", "RUNNING", "NEEDS_RETRY"])
def test_it_refuses_to_delete_a_definition_with_an_active_run(dev, hello, status):
    run = force_status(make_run(hello), status)
    reply = dev.delete(f"/api/v1/task/{hello.pk}")
    assert reply.status_code == 409
    assert "active run" in reply.json()["error"]
    assert Definition.objects.filter(pk=hello.pk).exists()
    assert Run.objects.filter(pk=run.pk).exists()


def test_it_lists_with_the_window_sort_and_filters_echoed(anon, hello):
    # Spec B.11 scenario 5.
    reply = anon.get(
        "/api/v1/task",
        {
            "limit": 100,
            "offset": 2,
            "sort_by": "alias",
            "order": "desc",
            "group_name": "cupcake",
            "env": "E1|V1",
        },
    )
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert body["limit"] == 100
    assert body["offset"] == 2
    assert body["sort_by"] == "alias"
    assert body["order"] == "desc"
    assert body["group_name"] == ["cupcake"]
    assert body["env_filters"] == {"E1": "V1"}
    assert body["definitions"] == []
    assert body["total"] == 0


def test_it_filters_by_substring_exact_tag_and_env(anon, dev, hello):
    dev.post("/api/v1/task", NEW)
    aliases = lambda **q: [d["alias"] for d in anon.get("/api/v1/task", q).json()["definitions"]]  # noqa: E731
    assert aliases(alias="ell") == ["hello"]
    assert aliases(tag="reports") == ["nightly-report"]
    assert aliases(env="E1|V1") == ["nightly-report"]
    assert aliases(env="GREETING|hi") == ["hello"]
    assert aliases(env="GREETING|HI") == []
    assert aliases(memory="512") == ["hello"]
    assert sorted(aliases(alias=["hello", "nightly-report"])) == ["hello", "nightly-report"]


def test_it_sorts_and_pages(anon, dev, hello):
    for name in ("b", "c", "a"):
        dev.post("/api/v1/task", {**NEW, "alias": name})
    page = anon.get("/api/v1/task", {"sort_by": "alias", "order": "desc", "limit": 2}).json()
    assert [d["alias"] for d in page["definitions"]] == ["hello", "c"]
    assert page["total"] == 4
    page = anon.get("/api/v1/task", {"sort_by": "alias", "limit": 2, "offset": 2}).json()
    assert [d["alias"] for d in page["definitions"]] == ["c", "hello"]


@pytest.mark.parametrize(
    "query",
    [
        {"sort_by": "command"},
        {"order": "sideways"},
        {"memory": "lots"},
        {"memory": "99999999999999999999999"},
        {"no_such_column": "x"},
        {"env": "no-bar"},
        {"limit": "0"},
        {"limit": "ten"},
        {"offset": "-1"},
    ],
)
def test_it_refuses_a_bad_list_query_with_400_not_500(anon, hello, query):
    reply = anon.get("/api/v1/task", query)
    assert reply.status_code == 400, reply.content
    assert set(reply.json()) == {"error"}


def test_it_treats_a_filter_value_as_data_never_as_sql(anon, hello):
    reply = anon.get("/api/v1/task", {"alias": "x' OR '1'='1", "group_name": "%"})
    assert reply.status_code == 200
    assert reply.json()["total"] == 0
