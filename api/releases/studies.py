"""/studies: mirrored from the dataservice, read-only here."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.responses import codes_4xx, codes_5xx

from api.common.pagination import ReleasesPagination
from api.releases.auth import admin_auth
from api.releases.errors import DetailOut, FieldMessages, MethodNotAllowed, answers
from api.releases.schemas import KfId, ReleaseOut, StudyOut, SyncOut, path_id
from domain.common.errors import NotFound
from domain.releases import conf, selectors, studies
from domain.releases.models import Study
from orchestrator.clients.dataservice import DataserviceError, fetch_studies

router = Router(tags=["studies"])


@router.get("/studies", response=answers({200: list[StudyOut]}), url_name="study-list")
@paginate(ReleasesPagination)
def list_studies(request: HttpRequest):
    return selectors.studies()


# Studies are mirrored, never written here: methods the document does not list. OPTIONS too,
# so its `Allow` names only what the document does.
READ_ONLY = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_operation(READ_ONLY, "/studies", include_in_schema=False)
def studies_read_only(request: HttpRequest):
    raise MethodNotAllowed(request.method, allowed=("GET",))


@router.post(
    "/studies/sync",
    # The dataservice's own error status is passed on with a SyncOut body; the family's
    # refusals (a NUL in the query, no admin) keep theirs.
    response={
        200: SyncOut,
        codes_4xx: SyncOut | DetailOut | FieldMessages,
        codes_5xx: SyncOut,
        401: DetailOut,
        403: DetailOut,
    },
    auth=admin_auth,
)
def sync_studies(request: HttpRequest):
    """Mirror every page of `{DATASERVICE_URL}/studies` (a daily beat job does the same)."""
    base = conf.dataservice_url()
    if not base:
        body = {"status": "ok", "message": "DATASERVICE_URL is not set", "new": 0, "deleted": 0}
        return Status(200, body)
    try:
        rows = fetch_studies(base)
    except DataserviceError as exc:
        body = {
            "status": "error",
            "message": "There was an error getting studies from the dataservice",
        }
        return Status((exc.status if 400 <= exc.status < 600 else 502), body)
    counts = studies.studies_upsert(rows=rows, mark_missing_deleted=True)
    return Status(200, {"status": "ok", "message": "Synchronized with dataservice", **counts})


@router.get("/studies/{kf_id}", response=answers({200: StudyOut}, 404), url_name="study-detail")
def get_study(request: HttpRequest, kf_id: KfId):
    study = selectors.studies().filter(pk=kf_id).first()
    if study is None:
        raise NotFound("Not found.")
    return study


@router.api_operation(READ_ONLY, "/studies/{kf_id}", include_in_schema=False)
def study_read_only(request: HttpRequest, kf_id: str):
    raise MethodNotAllowed(request.method, allowed=("GET",))


@router.get("/studies/{kf_id}/releases", response=answers({200: list[ReleaseOut]}, 404))
@paginate(ReleasesPagination)
def study_releases(request: HttpRequest, kf_id: str = path_id()):
    if not Study.objects.filter(pk=kf_id).exists():
        raise NotFound("Not found.")
    qs = selectors.releases().filter(studies__kf_id=kf_id)
    return qs
