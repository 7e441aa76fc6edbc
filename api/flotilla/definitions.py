"""/api/{v1,v6}/task: task definitions (spec B.3)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate

from api.common.pagination import Serialized
from api.flotilla.auth import runs_writer
from api.flotilla.listing import FlotillaListing, Listing, filter_query, list_request
from api.flotilla.routes import answers, at_versions, reads, typed
from api.flotilla.schemas import (
    DefinitionIn,
    DefinitionOut,
    DefinitionUpdateIn,
    DeletedOut,
    definition_json,
    env_pairs,
)
from domain.runs import selectors
from domain.runs.definitions import definition_create, definition_delete, definition_update

router = Router(tags=["definitions"])

DEFAULT_SORT = "group_name"
DefinitionQuery = filter_query(
    "DefinitionQuery", selectors.DEFINITION_FILTERS, selectors.DEFINITION_SORTS, DEFAULT_SORT
)


@at_versions(router, "GET", "/task", response=answers({200: list[DefinitionOut]}))
@paginate(FlotillaListing, items_key="definitions")
@reads
@typed(query=DefinitionQuery)
def list_definitions(request: HttpRequest, query: DefinitionQuery):
    """Definitions, filtered by any column (`alias=x`, `tag=t`, `env=NAME|VALUE`, …), sorted
    by `sort_by` (alias, image, group_name, memory) in `order` (asc, desc)."""
    asked = list_request(request, default_sort=DEFAULT_SORT)
    rows = selectors.definitions_list(
        filters=asked.filters, env=asked.env, sort_by=asked.sort_by, order=asked.order
    )
    return Listing(Serialized(rows, definition_json), asked.echo())


@at_versions(
    router, "POST", "/task", response=answers({200: DefinitionOut}, 403, 409, 413), auth=runs_writer
)
def create_definition(request: HttpRequest, payload: DefinitionIn):
    """Create a definition (admin or dev). 409 when the alias is taken."""
    fields = payload.model_dump(exclude_none=True)
    fields["env"] = env_pairs(payload.env)
    return definition_json(definition_create(**fields))


@at_versions(router, "GET", "/task/alias/{alias}", response=answers({200: DefinitionOut}, 404))
@reads
def get_definition_by_alias(request: HttpRequest, alias: str):
    return definition_json(selectors.definition_get_by_alias(alias=alias))


@at_versions(router, "GET", "/task/{definition_id}", response=answers({200: DefinitionOut}, 404))
@reads
def get_definition(request: HttpRequest, definition_id: str):
    return definition_json(selectors.definition_get(definition_id=definition_id))


@at_versions(
    router,
    "PUT",
    "/task/{definition_id}",
    response=answers({200: DefinitionOut}, 403, 404, 409, 413),
    auth=runs_writer,
)
def update_definition(request: HttpRequest, definition_id: str, payload: DefinitionUpdateIn):
    """Merge (admin or dev): a field given, not null and not empty replaces the stored one;
    `env`, `ports` and `tags` are replaced whole."""
    changes = payload.model_dump(exclude_none=True)
    if payload.env is not None:
        changes["env"] = env_pairs(payload.env)
    return definition_json(definition_update(definition_id=definition_id, changes=changes))


@at_versions(
    router,
    "DELETE",
    "/task/{definition_id}",
    response=answers({200: DeletedOut}, 403, 404, 409),
    auth=runs_writer,
)
def delete_definition(request: HttpRequest, definition_id: str):
    """Delete a definition and its finished runs (admin or dev). 409 while any of its runs is
    QUEUED, PENDING, RUNNING or NEEDS_RETRY: stop them first."""
    definition_delete(definition_id=definition_id)
    return {"deleted": True}
