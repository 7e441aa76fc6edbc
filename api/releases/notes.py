"""/release-notes: notes on a release, optionally about one of its studies."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from api.common.pagination import ReleasesPagination
from api.releases.auth import admin_auth
from api.releases.errors import SELECT_VALID, answers, not_null
from api.releases.links import ref
from api.releases.schemas import KfId, NoteIn, NoteOut, NotePatch, filter_in, provided
from domain.common.errors import NotFound
from domain.releases import records
from domain.releases.errors import FieldErrors
from domain.releases.models import Release, ReleaseNote, Study

router = Router(tags=["release notes"])


def _get(kf_id: str) -> ReleaseNote:
    note = ReleaseNote.objects.filter(pk=kf_id).first()
    if note is None:
        raise NotFound("Not found.")
    return note


@router.get("/release-notes", response=answers({200: list[NoteOut]}), url_name="note-list")
@paginate(ReleasesPagination)
def list_notes(
    request: HttpRequest,
    author: str | None = filter_in(),
    study: str | None = filter_in(),
    release: str | None = filter_in(),
):
    qs = ReleaseNote.objects.order_by("-created_at")
    errors: dict[str, list[str]] = {}
    if author:
        qs = qs.filter(author=author)
    if study:
        if not Study.objects.filter(pk=study).exists():
            errors["study"] = [SELECT_VALID]
        qs = qs.filter(study_id=study)
    if release:
        if not Release.objects.filter(pk=release).exists():
            errors["release"] = [SELECT_VALID]
        qs = qs.filter(release_id=release)
    if errors:
        raise FieldErrors(errors)
    return qs


@router.post("/release-notes", response=answers({201: NoteOut}, 403, 413), auth=admin_auth)
def create_note(request: HttpRequest, payload: NoteIn):
    note = records.note_create(
        release_id=ref(payload.release, "release", "RE", required=True),
        study_id=ref(payload.study, "study", "SD"),
        description=payload.description,
        author=payload.author,
    )
    return Status(201, note)


@router.get("/release-notes/{kf_id}", response=answers({200: NoteOut}, 404), url_name="note-detail")
def get_note(request: HttpRequest, kf_id: KfId):
    return _get(kf_id)


def _update(request: HttpRequest, kf_id: str, fields: dict) -> ReleaseNote:
    _get(kf_id)
    not_null(fields, "description", "author", "release")
    changes = {k: v for k, v in fields.items() if k in ("description", "author")}
    if "release" in fields:
        changes["release_id"] = ref(fields["release"], "release", "RE", required=True)
    if "study" in fields:
        changes["study_id"] = ref(fields["study"], "study", "SD")
    return records.note_update(note_id=kf_id, fields=changes)


@router.patch(
    "/release-notes/{kf_id}", response=answers({200: NoteOut}, 403, 404, 413), auth=admin_auth
)
def patch_note(request: HttpRequest, kf_id: KfId, payload: NotePatch):
    return _update(request, kf_id, provided(payload))


@router.put(
    "/release-notes/{kf_id}", response=answers({200: NoteOut}, 403, 404, 413), auth=admin_auth
)
def put_note(request: HttpRequest, kf_id: KfId, payload: NoteIn):
    return _update(request, kf_id, payload.model_dump())


@router.delete("/release-notes/{kf_id}", response=answers({204: None}, 403, 404), auth=admin_auth)
def delete_note(request: HttpRequest, kf_id: KfId):
    records.record_delete(model=ReleaseNote, pk=kf_id)
    return Status(204, None)
