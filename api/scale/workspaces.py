"""/v6/workspaces/…: list, create, details, edit, validation (Scale's v6 workspace services).

A fresh install lists the default workspace (`SCALE_DEFAULT_WORKSPACE`), created on first use.
S3 credentials are accepted and stored encrypted; every answer shows them masked.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from api.common.pagination import ScalePagination
from api.scale.answers import answers, family_url
from api.scale.auth import read_auth, write_auth
from api.scale.fields import given_fields
from api.scale.params import order_fields, order_param, parse_time, time_param
from api.scale.schemas import (
    ValidationOut,
    WorkspaceDetailsOut,
    WorkspaceIn,
    WorkspaceOut,
    WorkspacePatch,
    WorkspaceValidationIn,
)
from domain.jobs import selectors, workspaces

router = Router(tags=["workspaces"])

WORKSPACE_ID_MAX = 2**63 - 1


NAMES = Query(None, description="Repeatable.")
ORDER = order_param(selectors.WORKSPACE_ORDER_FIELDS)


def _id_param() -> Path:
    # An id past the column's range names nothing; the document says so and 400 refuses it.
    return Path(..., ge=1, le=WORKSPACE_ID_MAX)


@router.get(
    "/v6/workspaces/", response=answers({200: list[WorkspaceOut]}, 401, 404), auth=read_auth
)
@paginate(ScalePagination)
def list_workspaces(
    request: HttpRequest,
    name: list[str] | None = NAMES,
    started: str | None = time_param(),
    ended: str | None = time_param(),
    order: list[str] | None = ORDER,
):
    """Workspaces by name; `started`/`ended` bound when each was last modified."""
    workspaces.workspace_default_ensure()
    return selectors.workspaces(
        names=name or (),
        started=parse_time(started, name="started"),
        ended=parse_time(ended, name="ended"),
        order=order_fields(order, selectors.WORKSPACE_ORDER_FIELDS),
    )


@router.post(
    "/v6/workspaces/",
    response=answers({201: WorkspaceDetailsOut}, 401, 403, 413),
    auth=write_auth,
)
def create_workspace(request: HttpRequest, response: HttpResponse, payload: WorkspaceIn):
    """A new workspace, named after its title unless `name` is given. Admin or dev."""
    given = given_fields(payload, nullable=frozenset({"base_url"}))
    workspace = workspaces.workspace_create(**given)
    response["Location"] = family_url(request, f"workspaces/{workspace.pk}/")
    return Status(201, workspace)


@router.post(
    "/v6/workspaces/validation/",
    response=answers({200: ValidationOut}, 401, 413),
    auth=read_auth,
)
def validate_workspace(request: HttpRequest, payload: WorkspaceValidationIn):
    """What creating this workspace (or editing the one `name` names) would find: 200 with
    `is_valid`, `errors`, `warnings`."""
    found = workspaces.workspace_validate(configuration=payload.configuration, name=payload.name)
    return found.as_dict()


@router.get(
    "/v6/workspaces/{workspace_id}/",
    response=answers({200: WorkspaceDetailsOut}, 401, 404),
    auth=read_auth,
)
def get_workspace(request: HttpRequest, workspace_id: int = _id_param()):
    return selectors.workspace_get(workspace_id=workspace_id)


@router.patch(
    "/v6/workspaces/{workspace_id}/",
    response=answers({204: None}, 401, 403, 404, 413),
    auth=write_auth,
)
def edit_workspace(request: HttpRequest, payload: WorkspacePatch, workspace_id: int = _id_param()):
    """Change the fields given (204). Stored credentials stay unless new ones are given."""
    given = given_fields(payload, nullable=frozenset({"base_url"}))
    workspaces.workspace_edit(workspace_id=workspace_id, changes=given)
    return Status(204, None)
