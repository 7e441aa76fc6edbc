"""/v6/job-type-names/ and /v6/job-types/…: list, versions, details, add or upsert, edit,
revisions, validation (specs/scale-and-flotilla.md A.3–A.6).

Routes are declared before the routes whose path parameter would take their last segment
(`/job-types/validation/` before `/job-types/{name}/`). Versions with `-` or `+` are
addressable (QUIRK fixed: the original's URL pattern refused them).
"""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from api.common.pagination import ScalePagination
from api.scale.answers import answers, family_url
from api.scale.auth import read_auth, write_auth
from api.scale.fields import given_fields
from api.scale.params import order_fields, order_param
from api.scale.schemas import (
    JobTypeDetailsOut,
    JobTypeIn,
    JobTypeNameOut,
    JobTypeOut,
    JobTypePatch,
    JobTypeValidationIn,
    RevisionDetailsOut,
    RevisionOut,
    ValidationOut,
)
from domain.jobs import job_types, selectors

router = Router(tags=["job-types"])

# Shared query parameters (a parameter object is only read by ninja, never changed).
KEYWORD = Query(None, description="Name or tag contains it; repeatable.")
IDS = Query(None, description="Repeatable.")
ORDER = order_param(selectors.JOB_TYPE_ORDER_FIELDS)

READ = (401, 404)  # 404: a page past the last
WRITE = (401, 403, 413)
NULLABLE = frozenset({"icon_code", "max_scheduled"})
REVISION_MAX = 2**31 - 1


def _filters(
    keyword: list[str] | None,
    id: list[int] | None,  # noqa: A002 (the wire's name)
    is_active: bool | None,
    is_system: bool | None,
) -> dict:
    return {
        "keywords": keyword or (),
        "ids": id or (),
        "is_active": is_active,
        "is_system": is_system,
    }


@router.get(
    "/v6/job-type-names/", response=answers({200: list[JobTypeNameOut]}, *READ), auth=read_auth
)
@paginate(ScalePagination)
def list_job_type_names(
    request: HttpRequest,
    keyword: list[str] | None = KEYWORD,
    id: list[int] | None = IDS,  # noqa: A002
    is_active: bool | None = Query(None),
    is_system: bool | None = Query(None),
):
    """One entry per job type name, with its latest version's fields and all its versions."""
    return selectors.job_type_names(**_filters(keyword, id, is_active, is_system))


@router.get("/v6/job-types/", response=answers({200: list[JobTypeOut]}, *READ), auth=read_auth)
@paginate(ScalePagination)
def list_job_types(
    request: HttpRequest,
    keyword: list[str] | None = KEYWORD,
    id: list[int] | None = IDS,  # noqa: A002
    is_active: bool | None = Query(None),
    is_system: bool | None = Query(None),
    order: list[str] | None = ORDER,
):
    """Every name/version row, by name unless `order` says otherwise."""
    fields = order_fields(order, selectors.JOB_TYPE_ORDER_FIELDS)
    return selectors.job_types(**_filters(keyword, id, is_active, is_system), order=fields)


@router.post(
    "/v6/job-types/",
    response=answers({201: JobTypeDetailsOut, 200: ValidationOut}, *WRITE),
    auth=write_auth,
)
def create_job_type(request: HttpRequest, response: HttpResponse, payload: JobTypeIn):
    """Add a job type from a Seed manifest, or a new version of one (201, with `Location`).
    The same name and jobVersion again is an edit with that manifest: 200 with
    `{is_valid, errors, warnings}` and revision_num + 1. Admin or dev."""
    given = given_fields(payload, nullable=NULLABLE)
    given.pop("auto_update", None)  # no recipe contains a job type yet: nothing to update
    saved = job_types.job_type_create(
        docker_image=given.pop("docker_image"),
        manifest=given.pop("manifest"),
        configuration=given.pop("configuration", None),
        options=given,
    )
    if not saved.created:
        return Status(200, saved.validation.as_dict())
    job_type = saved.job_type
    response["Location"] = family_url(request, _details_path(job_type.name, job_type.version))
    return Status(201, job_type)


def _details_path(name: str, version: str) -> str:
    return f"job-types/{quote(name, safe='')}/{quote(version, safe='')}/"


@router.post(
    "/v6/job-types/validation/",
    response=answers({200: ValidationOut}, 401, 413),
    auth=read_auth,
)
def validate_job_type(request: HttpRequest, payload: JobTypeValidationIn):
    """What adding this job type would find, saving nothing: always 200 with `is_valid`,
    `errors` and `warnings` (a manifest or configuration that does not validate is an error
    in the answer, not a refusal)."""
    found = job_types.job_type_validate(
        manifest=payload.manifest, configuration=payload.configuration
    )
    return found.as_dict()


@router.get(
    "/v6/job-types/{name}/", response=answers({200: list[JobTypeOut]}, *READ), auth=read_auth
)
@paginate(ScalePagination)
def list_job_type_versions(
    request: HttpRequest,
    name: str = Path(...),
    is_active: bool | None = Query(None),
):
    """The versions of one name, latest first; an unknown name has none (an empty page)."""
    return selectors.job_type_versions(name=name, is_active=is_active)


@router.get(
    "/v6/job-types/{name}/{version}/",
    response=answers({200: JobTypeDetailsOut}, *READ),
    auth=read_auth,
)
def get_job_type(request: HttpRequest, name: str, version: str):
    """One version: its fields, manifest and configuration (never a secret setting's value)."""
    return selectors.job_type_get(name=name, version=version)


@router.patch(
    "/v6/job-types/{name}/{version}/",
    response=answers({200: ValidationOut}, 401, 403, 404, 413),
    auth=write_auth,
)
def edit_job_type(request: HttpRequest, name: str, version: str, payload: JobTypePatch):
    """Edit one version. A manifest (even an identical one) makes a new revision; nothing else
    does. `max_scheduled` may be reset to null and `is_published` to false. Admin or dev."""
    given = given_fields(payload, nullable=NULLABLE)
    given.pop("auto_update", None)
    manifest, configuration = given.pop("manifest", None), given.pop("configuration", None)
    saved = job_types.job_type_edit(
        name=name, version=version, changes=given, manifest=manifest, configuration=configuration
    )
    return saved.validation.as_dict()


@router.get(
    "/v6/job-types/{name}/{version}/revisions/",
    response=answers({200: list[RevisionOut]}, *READ),
    auth=read_auth,
)
@paginate(ScalePagination)
def list_job_type_revisions(request: HttpRequest, name: str = Path(...), version: str = Path(...)):
    """Its revisions, latest first."""
    return selectors.job_type_revisions(name=name, version=version)


@router.get(
    "/v6/job-types/{name}/{version}/revisions/{revision_num}/",
    response=answers({200: RevisionDetailsOut}, *READ),
    auth=read_auth,
)
def get_job_type_revision(
    request: HttpRequest,
    name: str,
    version: str,
    revision_num: int = Path(..., ge=1, le=REVISION_MAX),
):
    """One revision, with the manifest it had."""
    return selectors.job_type_revision_get(name=name, version=version, revision_num=revision_num)
