from __future__ import annotations

import pytest
from django.test import RequestFactory
from ninja import Schema

from api.common.pagination import MAX_LIMIT, page_of, paginate
from domain.common.errors import InvalidInput


class ItemOut(Schema):
    n: int


def _page(path: str, items: list):
    request = RequestFactory().get(path)
    return paginate(request, items, serialize=lambda n: {"n": n})


def test_the_first_page_links_forward_only():
    body = _page("/things?state=ok", list(range(25)))
    assert body["count"] == 25
    assert [r["n"] for r in body["results"]] == list(range(10))
    assert body["previous"] is None
    assert body["next"] == "http://testserver/things?state=ok&limit=10&offset=10"


def test_a_middle_page_links_both_ways_and_the_last_has_no_next():
    middle = _page("/things?limit=10&offset=10", list(range(25)))
    assert middle["previous"] == "http://testserver/things?limit=10"
    assert middle["next"] == "http://testserver/things?limit=10&offset=20"
    last = _page("/things?limit=10&offset=20", list(range(25)))
    assert [r["n"] for r in last["results"]] == list(range(20, 25)) and last["next"] is None


def test_a_huge_limit_is_capped():
    body = _page(f"/things?limit={10**12}", list(range(MAX_LIMIT + 5)))
    assert len(body["results"]) == MAX_LIMIT


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=0",
        "limit=-3",
        "offset=-1",
        "offset=1.5",
        # Given twice, Django would take the last: a fuzzer's list of junk ending in "" passed.
        "limit=abc&limit=",
        "offset=x&offset=2",
    ],
)
def test_a_bad_window_is_invalid_input(query):
    with pytest.raises(InvalidInput):
        _page(f"/things?{query}", [1, 2, 3])


def test_there_is_one_page_schema_per_item_schema():
    page = page_of(ItemOut)
    assert page is page_of(ItemOut)
    assert page.__name__ == "ItemOutPage"
    assert set(page.model_fields) == {"count", "next", "previous", "results"}
