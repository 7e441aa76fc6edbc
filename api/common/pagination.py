"""limit/offset pagination with a `{count, next, previous, results}` body and absolute links."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Schema
from pydantic import create_model

from api.common.links import absolute_url
from domain.common.errors import InvalidInput

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
# PostgreSQL's LIMIT/OFFSET are 64-bit: a larger value is a database error (a 500), not an
# empty page, so it is refused as bad input.
MAX_WINDOW_VALUE = 2**63 - 1 - MAX_LIMIT

_page_schemas: dict[type[Schema], type[Schema]] = {}


def page_of(item: type[Schema], name: str | None = None) -> type[Schema]:
    """The page schema for `item`. One per item schema: OpenAPI names it after the item."""
    if item not in _page_schemas:
        _page_schemas[item] = create_model(
            name or f"{item.__name__}Page",
            __base__=Schema,
            count=(int, ...),
            next=(str | None, None),
            previous=(str | None, None),
            results=(list[item], ...),
        )
    return _page_schemas[item]


def parse_window(limit: Any, offset: Any) -> tuple[int, int]:
    """Validate raw query values (strings) into a (limit, offset) window."""
    try:
        lim = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        off = 0 if offset in (None, "") else int(offset)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("limit and offset must be integers") from exc
    if lim < 1 or off < 0:
        raise InvalidInput("limit must be positive and offset not negative")
    if lim > MAX_WINDOW_VALUE or off > MAX_WINDOW_VALUE:
        raise InvalidInput("limit and offset must be below 2**63")
    return min(lim, MAX_LIMIT), off


def _link(request: HttpRequest, limit: int, offset: int) -> str:
    params = request.GET.copy()
    params["limit"] = str(limit)
    if offset:
        params["offset"] = str(offset)
    else:
        params.pop("offset", None)
    return absolute_url(request, request.path) + "?" + urlencode(params, doseq=True)


def _once(request: HttpRequest, name: str) -> str | None:
    """A window parameter's value. Given twice it is ambiguous (Django would take the last, a
    list in the first one's place and all), so it is refused."""
    values = request.GET.getlist(name)
    if len(values) > 1:
        raise InvalidInput(f"{name} may be given only once")
    return values[0] if values else None


def paginate(
    request: HttpRequest,
    items: QuerySet | list,
    *,
    serialize: Callable[[Any], Any] = lambda x: x,
    limit: Any = None,
    offset: Any = None,
) -> dict[str, Any]:
    lim, off = parse_window(
        limit if limit is not None else _once(request, "limit"),
        offset if offset is not None else _once(request, "offset"),
    )
    count = items.count() if isinstance(items, QuerySet) else len(items)
    window: Iterable = items[off : off + lim]
    return {
        "count": count,
        "next": _link(request, lim, off + lim) if off + lim < count else None,
        "previous": _link(request, lim, max(off - lim, 0)) if off > 0 else None,
        "results": [serialize(x) for x in window],
    }
