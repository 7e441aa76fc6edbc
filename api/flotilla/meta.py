"""/groups, /tags (real distinct values, unlike the original's stubs) and /api/v6/health."""

from __future__ import annotations

from typing import NewType

from django.db import connection
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from api.common.pagination import FlotillaPagination
from api.flotilla.decoding import NO_NUL
from api.flotilla.routes import answers, at_versions, reads, typed
from api.flotilla.schemas import ErrorOut, HealthOut
from domain.runs import selectors

router = Router(tags=["metadata"])

# Named item types: ninja names a page's schema after its items, and two pages of plain
# strings would share (and overwrite) one schema in the document.
GroupName = NewType("GroupName", str)
TagText = NewType("TagText", str)


class NameQuery(Schema):
    name: str = Field("", description="Only values containing this text.", pattern=NO_NUL)


@at_versions(router, "GET", "/groups", response=answers({200: list[GroupName]}))
@paginate(FlotillaPagination, items_key="groups")
@reads
@typed(query=Query[NameQuery])
def list_groups(request: HttpRequest, query: Query[NameQuery]):
    """The distinct group names of the definitions."""
    return selectors.groups_list(name=query.name)


@at_versions(router, "GET", "/tags", response=answers({200: list[TagText]}))
@paginate(FlotillaPagination, items_key="tags")
@reads
@typed(query=Query[NameQuery])
def list_tags(request: HttpRequest, query: Query[NameQuery]):
    """The distinct tags the definitions carry."""
    return selectors.tags_list(name=query.name)


@at_versions(router, "GET", "/health", versions=("v6",), response={200: HealthOut, 503: ErrorOut})
def health(request: HttpRequest):
    """Healthy when the database answers (no credentials needed, whatever the settings)."""
    try:
        connection.ensure_connection()
    except Exception:  # noqa: BLE001 (any failure to reach the database is "unhealthy")
        return 503, {"error": "the database is unreachable"}
    return {"status": "healthy", "message": "OK"}
