"""/releases: create (fans out to every enabled task service), read, update, cancel, publish."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from api.common.pagination import ReleasesPagination
from api.releases.auth import admin_auth, person_auth, require_study_groups, trigger_auth
from api.releases.errors import EmptyOut, answers, not_null
from api.releases.queue import queue_required
from api.releases.schemas import (
    KfId,
    MessageOut,
    ReleaseIn,
    ReleaseOut,
    ReleasePatch,
    StatusOut,
    choice_in,
    provided,
)
from domain.common.errors import NotFound
from domain.releases import selectors, services, studies, sweeps
from domain.releases.errors import field_error
from domain.releases.models import Release, ReleaseState

router = Router(tags=["releases"])


def _get(kf_id: str) -> Release:
    release = selectors.releases().filter(pk=kf_id).first()
    if release is None:
        raise NotFound("Not found.")
    return release


@router.get("/releases", response=answers({200: list[ReleaseOut]}), url_name="release-list")
@paginate(ReleasesPagination)
def list_releases(
    request: HttpRequest,
    state: str | None = choice_in(ReleaseState.values),
):
    """Releases, newest first; `state` filters."""
    qs = selectors.releases()
    if state:
        if state not in ReleaseState.values:
            raise field_error("state", f"Select a valid choice. {state} is not one of the choices.")
        qs = qs.filter(state=state)
    return qs


@router.post(
    "/releases",
    response=answers({201: ReleaseOut}, 403, 413),
    auth=person_auth,
    url_name="release-create",
)
def create_release(request: HttpRequest, payload: ReleaseIn):
    """Start a release: a task per enabled service, initialized then started on Celery.
    Admins may release any study; others only studies in their groups. `version` is ignored."""
    # A bad study list is a 400 for everyone; only a valid one is checked against the groups.
    studies.studies_resolve(study_ids=payload.studies)
    require_study_groups(request.auth, payload.studies)
    release = services.release_create(
        name=payload.name,
        studies=payload.studies,
        description=payload.description,
        author=payload.author,
        tags=payload.tags,
        is_major=payload.is_major,
    )
    return Status(201, _get(release.kf_id))


@router.post(
    "/releases/status_checks", response=answers({200: StatusOut}, 403, 503), auth=trigger_auth
)
def release_status_checks(request: HttpRequest):
    """Compatibility trigger (beat does this work anyway): re-check every live release."""
    with queue_required():
        count = sweeps.releases_check_status()
    return {"status": "ok", "message": f"{count} releases to check"}


@router.get(
    "/releases/{kf_id}", response=answers({200: ReleaseOut}, 404), url_name="release-detail"
)
def get_release(request: HttpRequest, kf_id: KfId):
    return _get(kf_id)


def _update(request: HttpRequest, kf_id: str, fields: dict) -> Release:
    _get(kf_id)
    not_null(fields, *fields.keys())
    services.release_update(release_id=kf_id, fields=fields)
    return _get(kf_id)


@router.patch(
    "/releases/{kf_id}", response=answers({200: ReleaseOut}, 403, 404, 413), auth=admin_auth
)
def patch_release(request: HttpRequest, kf_id: KfId, payload: ReleasePatch):
    return _update(request, kf_id, provided(payload))


@router.put(
    "/releases/{kf_id}", response=answers({200: ReleaseOut}, 403, 404, 413), auth=admin_auth
)
def put_release(request: HttpRequest, kf_id: KfId, payload: ReleaseIn):
    return _update(request, kf_id, payload.model_dump())


@router.delete(
    "/releases/{kf_id}",
    response={**answers({200: ReleaseOut}, 403), 404: EmptyOut},
    auth=admin_auth,
)
def cancel_release(request: HttpRequest, kf_id: KfId):
    """Cancel (never delete): the release moves to canceling and ends canceled once every task
    was told. A release that cannot be canceled is returned unchanged. An unknown id is 404
    with an empty body, as in the original (spec §2); other methods answer `Not found.`."""
    if not Release.objects.filter(pk=kf_id).exists():
        return Status(404, {})
    services.release_cancel(release_id=kf_id)
    return _get(kf_id)


@router.post(
    "/releases/{kf_id}/publish", response=answers({200: MessageOut}, 403, 404), auth=person_auth
)
def publish_release(request: HttpRequest, kf_id: KfId):
    """Publish a staged release (400 from any other state, nothing changed)."""
    release = _get(kf_id)
    require_study_groups(request.auth, [s.kf_id for s in release.studies.all()])
    services.release_publish(release_id=kf_id)
    return {"message": "publishing"}
