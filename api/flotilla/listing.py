"""The original's list pages: `limit`/`offset` (FlotillaPagination) plus the echo of the request
(`sort_by`, `order`, `env_filters` and every column filter, under its own name).

A list view returns `Listing(rows, echo)`; `FlotillaListing` pages the rows and adds the echo.
The column filters are every query key that is not a window, sort or `env`: they are read
from the query itself (a repeated key is a list) and checked by the domain selector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Schema
from pydantic import Field, create_model

from api.common.pagination import FlotillaPagination
from api.flotilla.decoding import NO_NUL
from api.flotilla.schemas import ListEcho
from domain.common.errors import InvalidInput
from domain.runs.models import RunStatus
from domain.runs.selectors import EXACT, INT, STATUS, TEXT, TIME, Column

NOT_FILTERS = frozenset({"limit", "offset", "sort_by", "order", "env"})
ENV_FILTER = r"^[^|\x00]+\|[^\x00]*$"


@dataclass(frozen=True)
class Listing:
    rows: QuerySet | list
    echo: dict[str, Any] = field(default_factory=dict)


class FlotillaListing(FlotillaPagination):
    def __init__(self, *, items_key: str, **kwargs: Any) -> None:
        super().__init__(items_key=items_key, **kwargs)
        self.Output = create_model(
            "FlotillaListPage",
            __base__=ListEcho,
            total=(int, ...),
            **{items_key: (list[Any], ...)},
            limit=(int, ...),
            offset=(int, ...),
            sort_by=(str, ...),
            order=(str, ...),
            env_filters=(dict[str, str], ...),
        )

    def paginate_queryset(
        self, queryset: Any, pagination: Any, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        listing: Listing = queryset
        page = super().paginate_queryset(listing.rows, pagination, request, **params)
        return {**page, **listing.echo}


@dataclass(frozen=True)
class ListRequest:
    sort_by: str
    order: str
    filters: dict[str, list[str]]
    env: dict[str, str]

    def echo(self) -> dict[str, Any]:
        # Filters first: a filter can never overwrite the page's own members.
        return {
            **self.filters,
            "sort_by": self.sort_by,
            "order": self.order,
            "env_filters": self.env,
        }


def list_request(
    request: HttpRequest, *, default_sort: str, extra: dict | None = None
) -> ListRequest:
    """The sort, the column filters and the env filters of a list request."""
    query = request.GET
    filters = {key: query.getlist(key) for key in query if key not in NOT_FILTERS}
    filters.update(extra or {})
    return ListRequest(
        sort_by=query.get("sort_by", default_sort),
        order=query.get("order", "asc"),
        filters=filters,
        env=_env_filters(query.getlist("env")),
    )


def _env_filters(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, bar, wanted = value.partition("|")
        if not bar or not name:
            raise InvalidInput(f"env filter [{value}] must be NAME|VALUE")
        pairs[name] = wanted
    return pairs


# What the document says each kind of column filter takes (the selector checks it). A filter
# may be repeated (any of its values); the document shows one value, so that a client's URL
# stays within what web servers take in a request line.
_KIND_LIMITS = {
    TEXT: {"pattern": NO_NUL, "max_length": 64},
    EXACT: {"pattern": NO_NUL, "max_length": 64},
    INT: {"pattern": r"^-?[0-9]{1,18}$"},
    # An ISO 8601 date, or date-time (a zone is optional: without one it is UTC).
    TIME: {
        "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
    },
}


def filter_query(name: str, columns: dict[str, Column], sorts: dict[str, str], default: str):
    """A Query schema that documents a list's parameters (the view reads the query itself)."""
    fields: dict[str, Any] = {
        "sort_by": (str, Field(default, json_schema_extra={"enum": list(sorts)})),
        "order": (str, Field("asc", json_schema_extra={"enum": ["asc", "desc"]})),
        "env": (
            list[Annotated[str, Field(pattern=ENV_FILTER, max_length=128)]],
            Field(
                default_factory=list,
                max_length=3,
                description="NAME|VALUE: the env holds it; repeatable",
            ),
        ),
    }
    for key, column in columns.items():
        if column.kind == STATUS:
            item = Annotated[str, Field(json_schema_extra={"enum": RunStatus.values})]
            fields[key] = (list[item], Field(default_factory=list, max_length=5))
        else:
            fields[key] = (str | None, Field(None, **_KIND_LIMITS[column.kind]))
    return Query[create_model(name, __base__=Schema, **fields)]
