"""One django-ninja pagination class per wire family, so that each list operation's OpenAPI
document names its query parameters and its page shape:

- releases (and every family's token list): `limit`/`offset` → `{count, next, previous, results}`
  with absolute links;
- Scale: `page`/`page_size` → `{count, next, previous, results}`, as the original's DRF pages;
- Flotilla: `limit`/`offset` → `{total, <items>, limit, offset}`, the items under a key each
  endpoint names (`definitions`, `history`, …).

Use: `@router.get(path, response=list[ItemOut])` then `@paginate(ReleasesPagination)` on a view
that returns the whole (lazy) collection: a queryset, a list, or `Serialized(...)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase
from pydantic import BaseModel, WithJsonSchema, create_model, model_validator

from api.common.links import absolute_url
from domain.common.errors import InvalidInput, NotFound

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
# PostgreSQL's LIMIT/OFFSET are 64-bit: a larger value is a database error (a 500), not an
# empty page, so it is refused as bad input.
MAX_WINDOW_VALUE = 2**63 - 1 - MAX_LIMIT


class Serialized:
    """A collection whose page items go through `serialize`, for views that still build their
    bodies by hand: only the items of the page asked for are serialized."""

    def __init__(self, items: QuerySet | Sequence, serialize: Callable[[Any], Any]) -> None:
        self.items = items
        self.serialize = serialize

    def __len__(self) -> int:
        return _count(self.items)

    def __getitem__(self, window: slice) -> list[Any]:
        return [self.serialize(item) for item in self.items[window]]


def _count(items: Any) -> int:
    return items.count() if isinstance(items, QuerySet) else len(items)


def _link(request: HttpRequest, **params: int | None) -> str:
    """This request's absolute URL with `params` set (None: removed), other parameters kept."""
    query = request.GET.copy()
    for name, value in params.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return absolute_url(request, request.path) + "?" + urlencode(query, doseq=True)


class LinkedPage(Schema):
    """The page of releases and Scale (DRF's): a count, absolute links, the items."""

    count: int
    next: str | None
    previous: str | None
    results: list[Any]


# --- releases -------------------------------------------------------------------------------------


def parse_window(limit: Any, offset: Any) -> tuple[int, int]:
    """Validate raw query values (strings) into a (limit, offset) window; InvalidInput if bad."""
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


def _window_schema(*, minimum: int, default: int) -> WithJsonSchema:
    """A window parameter as the document states it: an integer in range, or empty (the default,
    as the original's DRF read `?limit=`)."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": minimum, "maximum": MAX_WINDOW_VALUE},
                {"type": "string", "maxLength": 0},
            ],
            "default": default,
        }
    )


def _refuse_repeated(request: HttpRequest, *names: str) -> None:
    """Given twice, a window is ambiguous (Django reads the last value, a list of junk ending in
    a good one passed): refused."""
    for name in names:
        if len(request.GET.getlist(name)) > 1:
            raise InvalidInput(f"{name} may be given only once")


class ReleasesPagination(PaginationBase):
    """`limit`/`offset` → `{count, next, previous, results}`, with links that keep the request's
    other parameters and honour REGATTA_PUBLIC_URL."""

    # A plain pydantic model: ninja's Schema wraps its input before a model validator sees it.
    class Input(BaseModel):
        limit: Annotated[int, _window_schema(minimum=1, default=DEFAULT_LIMIT)] = Field(
            DEFAULT_LIMIT,
            description=f"Items per page; a limit above {MAX_LIMIT} returns {MAX_LIMIT}.",
        )
        offset: Annotated[int, _window_schema(minimum=0, default=0)] = Field(
            0, description="Items to skip."
        )

        @model_validator(mode="before")
        @classmethod
        def _window(cls, data: dict[str, Any]) -> dict[str, int]:
            # The family answers a bad window with `{"detail": …}` (a DomainError, which pydantic
            # lets through), not with the per-field messages of a validation error.
            limit, offset = parse_window(data.get("limit"), data.get("offset"))
            return {"limit": limit, "offset": offset}

    Output = LinkedPage
    items_attribute = "results"

    def paginate_queryset(
        self, queryset: Any, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        _refuse_repeated(request, "limit", "offset")
        lim, off = pagination.limit, pagination.offset
        count = _count(queryset)
        return {
            "count": count,
            "next": _link(request, limit=lim, offset=off + lim) if off + lim < count else None,
            "previous": _link(request, limit=lim, offset=max(off - lim, 0) or None)
            if off > 0
            else None,
            "results": queryset[off : off + lim],
        }


# --- Scale ----------------------------------------------------------------------------------------

SCALE_PAGE_SIZE = 100
SCALE_MAX_PAGE_SIZE = 1000


class ScalePagination(PaginationBase):
    """`page`/`page_size` → `{count, next, previous, results}`, as Scale's DRF pages: a page_size
    above the maximum is capped, and a page past the last is 404 `Invalid page.` (page 1 of an
    empty list is an empty page)."""

    class Input(Schema):
        page: int = Field(1, ge=1, description="Page number, from 1.")
        page_size: int = Field(
            SCALE_PAGE_SIZE,
            ge=1,
            description=f"Items per page; a page_size above {SCALE_MAX_PAGE_SIZE} returns "
            f"{SCALE_MAX_PAGE_SIZE}.",
        )

    Output = LinkedPage
    items_attribute = "results"

    def paginate_queryset(
        self, queryset: Any, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        size = min(pagination.page_size, SCALE_MAX_PAGE_SIZE)
        page, count = pagination.page, _count(queryset)
        if page > max(math.ceil(count / size), 1):
            raise NotFound("Invalid page.")
        start = (page - 1) * size
        return {
            "count": count,
            "next": _link(request, page=page + 1) if start + size < count else None,
            # As DRF: the link to the first page carries no `page` at all.
            "previous": _link(request, page=page - 1 if page > 2 else None) if page > 1 else None,
            "results": queryset[start : start + size],
        }


# --- Flotilla -------------------------------------------------------------------------------------

FLOTILLA_LIMIT = 1024


class FlotillaPagination(PaginationBase):
    """`limit`/`offset` → `{total, <items_key>, limit, offset}`; the page echoes the window."""

    class Input(Schema):
        limit: int = Field(FLOTILLA_LIMIT, ge=1, le=MAX_WINDOW_VALUE, description="Items per page.")
        offset: int = Field(0, ge=0, le=MAX_WINDOW_VALUE, description="Items to skip.")

    def __init__(self, *, items_key: str, **kwargs: Any) -> None:
        # ninja names the page's item list after this attribute and types it in a subclass of
        # Output, where the list keeps its place: second, as in the original's pages.
        self.items_attribute = items_key
        self.Output = create_model(
            "FlotillaPage",
            __base__=Schema,
            total=(int, ...),
            **{items_key: (list[Any], ...)},
            limit=(int, ...),
            offset=(int, ...),
        )
        super().__init__(**kwargs)

    def paginate_queryset(
        self, queryset: Any, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        lim, off = pagination.limit, pagination.offset
        return {
            "total": _count(queryset),
            self.items_attribute: queryset[off : off + lim],
            "limit": lim,
            "offset": off,
        }
