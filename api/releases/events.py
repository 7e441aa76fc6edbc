"""/events: one per state change (written by the domain) plus error events; admins may add more."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from api.common.pagination import ReleasesPagination
from api.releases.auth import admin_auth
from api.releases.errors import answers, not_null
from api.releases.links import ref
from api.releases.schemas import EventIn, EventOut, EventPatch, KfId, filter_in, provided
from domain.common.errors import NotFound
from domain.releases import records
from domain.releases.models import Event

router = Router(tags=["events"])


def _get(kf_id: str) -> Event:
    event = Event.objects.filter(pk=kf_id).first()
    if event is None:
        raise NotFound("Not found.")
    return event


@router.get("/events", response=answers({200: list[EventOut]}), url_name="event-list")
@paginate(ReleasesPagination)
def list_events(
    request: HttpRequest,
    release: str | None = filter_in(),
    study: str | None = filter_in(),
    task: str | None = filter_in(),
    task_service: str | None = filter_in(),
):
    qs = Event.objects.order_by("-created_at")
    if release:
        qs = qs.filter(release_id=release)
    if task:
        qs = qs.filter(task_id=task)
    if task_service:
        qs = qs.filter(task_service_id=task_service)
    if study:
        # An event is about a study when it names it or belongs to a release that contains it.
        ids = Event.objects.filter(Q(study_id=study) | Q(release__studies__kf_id=study)).values(
            "kf_id"
        )
        qs = qs.filter(kf_id__in=ids)
    return qs


@router.post("/events", response=answers({201: EventOut}, 403, 413), auth=admin_auth)
def create_event(request: HttpRequest, payload: EventIn):
    event = records.event_create(
        fields={
            "event_type": payload.event_type,
            "message": payload.message,
            "release_id": ref(payload.release, "release", "RE"),
            "task_id": ref(payload.task, "task", "TA"),
            "task_service_id": ref(payload.task_service, "task_service", "TS"),
            "study_id": ref(payload.study, "study", "SD"),
        }
    )
    return Status(201, event)


@router.get("/events/{kf_id}", response=answers({200: EventOut}, 404), url_name="event-detail")
def get_event(request: HttpRequest, kf_id: KfId):
    return _get(kf_id)


@router.patch("/events/{kf_id}", response=answers({200: EventOut}, 403, 404, 413), auth=admin_auth)
def patch_event(request: HttpRequest, kf_id: KfId, payload: EventPatch):
    fields = provided(payload)
    not_null(fields, *fields.keys())
    return records.record_update(model=Event, pk=kf_id, fields=fields)


@router.put("/events/{kf_id}", response=answers({200: EventOut}, 403, 404, 413), auth=admin_auth)
def put_event(request: HttpRequest, kf_id: KfId, payload: EventPatch):
    return patch_event(request, kf_id, payload)


@router.delete("/events/{kf_id}", response=answers({204: None}, 403, 404), auth=admin_auth)
def delete_event(request: HttpRequest, kf_id: KfId):
    records.record_delete(model=Event, pk=kf_id)
    return Status(204, None)
