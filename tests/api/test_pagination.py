"""api/common/pagination.py: one ninja pagination class per wire family, exercised through a
test-only API per family (Scale and Flotilla have no list endpoint yet) over Django's test
client, plus the releases document, whose lists now declare their parameters and page shape."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import path
from ninja import Router, Schema
from ninja.pagination import paginate

from api import flotilla, releases, scale
from api.common.families import build_family_api
from api.common.pagination import (
    MAX_LIMIT,
    FlotillaPagination,
    ReleasesPagination,
    ScalePagination,
    Serialized,
)


class ItemOut(Schema):
    n: int


def _api(family, pagination, **params):
    """A family's error envelope, with one list of `count` items (query `count`, default 25)."""
    api = build_family_api(dataclasses.replace(family.FAMILY, name=f"pages-{family.FAMILY.name}"))
    router = Router()

    @router.get("/things", response=list[ItemOut])
    @paginate(pagination, **params)
    def things(request, count: int = 25):
        return [{"n": n} for n in range(count)]

    @router.get("/serialized", response=list[ItemOut])
    @paginate(pagination, **params)
    def serialized(request, count: int = 25):
        return Serialized(list(range(count)), lambda n: {"n": n})

    api.add_router("", router)
    return api


releases_api = _api(releases, ReleasesPagination)
scale_api = _api(scale, ScalePagination)
flotilla_api = _api(flotilla, FlotillaPagination, items_key="definitions")
urlpatterns = [
    path("releases/", releases_api.urls),
    path("scale/", scale_api.urls),
    path("flotilla/", flotilla_api.urls),
]
pytestmark = pytest.mark.urls(__name__)


def _ns(body: dict, key: str = "results") -> list[int]:
    return [item["n"] for item in body[key]]


def _query_params(operation: dict) -> dict[str, dict]:
    return {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}


def _page_schema(doc: dict, operation: dict) -> dict:
    ref = operation["responses"][200]["content"]["application/json"]["schema"]["$ref"]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


# --- releases: limit/offset → {count, next, previous, results} ----------------------------------


def test_it_links_the_first_releases_page_forward_only(client):
    body = client.get("/releases/things?state=ok").json()
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 25 and _ns(body) == list(range(10))
    assert body["next"] == "http://testserver/releases/things?state=ok&limit=10&offset=10"
    assert body["previous"] is None


def test_it_links_a_middle_page_both_ways_and_the_last_page_back_only(client):
    middle = client.get("/releases/things?limit=10&offset=10").json()
    assert middle["previous"] == "http://testserver/releases/things?limit=10"
    assert middle["next"] == "http://testserver/releases/things?limit=10&offset=20"
    last = client.get("/releases/things?limit=10&offset=20").json()
    assert _ns(last) == list(range(20, 25)) and last["next"] is None


def test_it_builds_links_on_the_public_url(client, settings):
    settings.REGATTA_PUBLIC_URL = "https://regatta.example"
    body = client.get("/releases/things").json()
    assert body["next"] == "https://regatta.example/releases/things?limit=10&offset=10"


def test_it_caps_a_huge_limit(client):
    body = client.get(f"/releases/things?count={MAX_LIMIT + 5}&limit={10**12}").json()
    assert len(body["results"]) == MAX_LIMIT
    assert body["next"].endswith(f"limit={MAX_LIMIT}&offset={MAX_LIMIT}")


def test_it_serializes_only_the_page_asked_for(client):
    body = client.get("/releases/serialized?limit=3&offset=4").json()
    assert body["count"] == 25 and _ns(body) == [4, 5, 6]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=abc", "limit and offset must be integers"),
        ("offset=1.5", "limit and offset must be integers"),
        ("limit=0", "limit must be positive and offset not negative"),
        ("limit=-3", "limit must be positive and offset not negative"),
        ("offset=-1", "limit must be positive and offset not negative"),
        (f"offset={2**63}", "limit and offset must be below 2**63"),
        (f"limit={2**64}", "limit and offset must be below 2**63"),
        # Given twice, Django would read the last: a fuzzer's junk ending in "" passed.
        ("limit=abc&limit=", "limit may be given only once"),
        ("limit=2&limit=3", "limit may be given only once"),
        ("offset=x&offset=2", "offset may be given only once"),
        ("offset=1&offset=2", "offset may be given only once"),
    ],
)
def test_it_answers_a_bad_window_with_the_releases_detail(client, query, message):
    resp = client.get(f"/releases/things?{query}")
    assert resp.status_code == 400
    assert resp.json() == {"detail": message}


def test_it_declares_every_releases_list_parameter_and_page():
    doc = releases.api.get_openapi_schema(path_prefix="")
    lists = [
        "/releases",
        "/tasks",
        "/task-services",
        "/release-notes",
        "/events",
        "/studies",
        "/studies/{kf_id}/releases",
        "/_/releases/tokens",
    ]
    for route in lists:
        operation = doc["paths"][route]["get"]
        params = _query_params(operation)
        # An integer in range, or empty for the default.
        limit, offset = params["limit"], params["offset"]
        assert limit["default"] == 10 and limit["anyOf"][0]["minimum"] == 1, route
        assert offset["default"] == 0 and offset["anyOf"][0]["minimum"] == 0, route
        assert limit["anyOf"][1] == offset["anyOf"][1] == {"type": "string", "maxLength": 0}
        page = _page_schema(doc, operation)
        assert list(page["properties"]) == ["count", "next", "previous", "results"], route


# --- Scale: page/page_size → {count, next, previous, results} -----------------------------------


def test_it_pages_scale_lists_by_number(client):
    first = client.get("/scale/things?count=250").json()
    assert first["count"] == 250 and _ns(first) == list(range(100))
    assert first["previous"] is None
    assert first["next"] == "http://testserver/scale/things?count=250&page=2"
    second = client.get("/scale/things?count=250&page=2").json()
    assert _ns(second) == list(range(100, 200))
    # As DRF: the link back to the first page carries no page number.
    assert second["previous"] == "http://testserver/scale/things?count=250"
    assert second["next"] == "http://testserver/scale/things?count=250&page=3"
    third = client.get("/scale/things?count=250&page=3").json()
    assert _ns(third) == list(range(200, 250)) and third["next"] is None
    assert third["previous"] == "http://testserver/scale/things?count=250&page=2"


def test_it_takes_a_scale_page_size_and_caps_it(client):
    small = client.get("/scale/things?page_size=7&page=2").json()
    assert _ns(small) == list(range(7, 14))
    assert small["next"] == "http://testserver/scale/things?page_size=7&page=3"
    capped = client.get("/scale/things?count=1500&page_size=5000").json()
    assert len(capped["results"]) == 1000 and capped["next"].endswith("page=2")


def test_it_answers_an_empty_first_scale_page_and_404_past_the_last(client):
    assert client.get("/scale/things?count=0").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    for query in ("count=0&page=2", "count=250&page=4", f"page={2**70}"):
        resp = client.get(f"/scale/things?{query}")
        assert resp.status_code == 404, query
        assert resp.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=0", "page_size=-1"])
def test_it_refuses_a_bad_scale_page_in_the_scale_envelope(client, query):
    resp = client.get(f"/scale/things?{query}")
    assert resp.status_code == 400
    assert list(resp.json()) == ["detail"]


def test_it_declares_the_scale_page_parameters_and_shape():
    doc = scale_api.get_openapi_schema(path_prefix="")
    operation = doc["paths"]["/things"]["get"]
    params = _query_params(operation)
    assert params["page"]["default"] == 1 and params["page"]["minimum"] == 1
    assert params["page_size"]["default"] == 100 and params["page_size"]["minimum"] == 1
    page = _page_schema(doc, operation)
    assert list(page["properties"]) == ["count", "next", "previous", "results"]


# --- Flotilla: limit/offset → {total, <items>, limit, offset} -----------------------------------


def test_it_pages_flotilla_lists_under_the_endpoint_key(client):
    body = client.get("/flotilla/things?count=5&limit=2&offset=1").json()
    assert list(body) == ["total", "definitions", "limit", "offset"]
    assert body == {"total": 5, "definitions": [{"n": 1}, {"n": 2}], "limit": 2, "offset": 1}
    default = client.get("/flotilla/things?count=2000").json()
    assert len(default["definitions"]) == 1024
    assert (default["limit"], default["offset"]) == (1024, 0)
    past = client.get("/flotilla/serialized?offset=30").json()
    assert past == {"total": 25, "definitions": [], "limit": 1024, "offset": 30}


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "offset=-1", f"offset={2**63}"])
def test_it_refuses_a_bad_flotilla_window_in_the_flotilla_envelope(client, query):
    resp = client.get(f"/flotilla/things?{query}")
    assert resp.status_code == 400
    assert list(resp.json()) == ["error"]


def test_it_declares_the_flotilla_page_parameters_and_shape():
    doc = flotilla_api.get_openapi_schema(path_prefix="")
    operation = doc["paths"]["/things"]["get"]
    params = _query_params(operation)
    assert params["limit"]["default"] == 1024 and params["offset"]["default"] == 0
    page = _page_schema(doc, operation)
    assert list(page["properties"]) == ["total", "definitions", "limit", "offset"]
    assert page["properties"]["definitions"]["items"] == {"$ref": "#/components/schemas/ItemOut"}
