"""/task-services: registration (checked against `GET {url}/status`), health, enable/disable."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from api.common.pagination import ReleasesPagination
from api.releases.auth import developer_auth, trigger_auth
from api.releases.errors import answers, not_null
from api.releases.queue import queue_required
from api.releases.schemas import (
    KfId,
    StatusOut,
    TaskServiceCreatedOut,
    TaskServiceIn,
    TaskServiceOut,
    TaskServicePatch,
    choice_in,
    provided,
)
from domain.common.errors import NotFound
from domain.releases import task_services
from domain.releases.errors import field_error
from domain.releases.models import TaskService
from orchestrator.clients.task_service import validate_endpoint

router = Router(tags=["task services"])

_BOOLS = {"true": True, "false": False}


def _get(kf_id: str) -> TaskService:
    service = TaskService.objects.filter(pk=kf_id).first()
    if service is None:
        raise NotFound("Not found.")
    return service


def _check_url(url: str) -> None:
    problem = validate_endpoint(url)
    if problem:
        raise field_error("url", problem)


@router.get(
    "/task-services", response=answers({200: list[TaskServiceOut]}), url_name="task-service-list"
)
@paginate(ReleasesPagination)
def list_services(
    request: HttpRequest,
    enabled: str | None = choice_in(["true", "false", "True", "False"]),
):
    qs = TaskService.objects.order_by("-created_at")
    if enabled:
        if enabled.lower() not in _BOOLS:
            raise field_error("enabled", "Enter a valid boolean: True or False.")
        qs = qs.filter(enabled=_BOOLS[enabled.lower()])
    return qs


@router.post(
    "/task-services",
    response=answers({201: TaskServiceCreatedOut}, 403, 413),
    auth=developer_auth,
)
def create_service(request: HttpRequest, payload: TaskServiceIn):
    """Register a service. The answer carries `inbound_token` (shown once): the bearer token the
    service uses to PATCH its own tasks. `outbound_token`, if given, is sent on every call to the
    service and never returned."""
    _check_url(payload.url)
    service, issued = task_services.task_service_create(
        **payload.model_dump(), registered_by=task_services.caller_key(caller=request.auth)
    )
    # The plaintext exists only in this answer (only its hash is stored).
    service.inbound_token = issued.plaintext
    return Status(201, service)


@router.post(
    "/task-services/health_checks", response=answers({200: StatusOut}, 403, 503), auth=trigger_auth
)
def health_checks(request: HttpRequest):
    """Compatibility trigger (beat runs health checks anyway)."""
    with queue_required():
        task_services.task_services_check_health()
    return {"status": "ok"}


@router.get(
    "/task-services/{kf_id}",
    response=answers({200: TaskServiceOut}, 404),
    url_name="task-service-detail",
)
def get_service(request: HttpRequest, kf_id: KfId):
    return _get(kf_id)


def _editable(request: HttpRequest, kf_id: str) -> TaskService:
    """The service, once the caller may change it (404, then 403)."""
    service = _get(kf_id)
    task_services.task_service_authorize(service=service, caller=request.auth)
    return service


def _update(request: HttpRequest, kf_id: str, fields: dict) -> TaskService:
    # Authorized before the new url is contacted: a stranger's PATCH sends no traffic.
    service = _editable(request, kf_id)
    not_null(fields, *(k for k in fields if k != "outbound_token"))
    if fields.get("outbound_token") is None:
        fields.pop("outbound_token", None)
    if "url" in fields and fields["url"] != service.url:
        _check_url(fields["url"])
    updated = task_services.task_service_update(
        service_id=kf_id, caller=request.auth, changes=fields
    )
    return updated


@router.patch(
    "/task-services/{kf_id}",
    response=answers({200: TaskServiceOut}, 403, 404, 413),
    auth=developer_auth,
)
def patch_service(request: HttpRequest, kf_id: KfId, payload: TaskServicePatch):
    """A dev may change only services it registered; admins any. A new `url` drops the stored
    `outbound_token` unless the same request sends one."""
    return _update(request, kf_id, provided(payload))


@router.put(
    "/task-services/{kf_id}",
    response=answers({200: TaskServiceOut}, 403, 404, 413),
    auth=developer_auth,
)
def put_service(request: HttpRequest, kf_id: KfId, payload: TaskServiceIn):
    """As PATCH, with every required field."""
    return _update(request, kf_id, payload.model_dump(exclude_unset=True))


@router.delete(
    "/task-services/{kf_id}", response=answers({204: None}, 403, 404), auth=developer_auth
)
def delete_service(request: HttpRequest, kf_id: KfId):
    """Really deletes (its tasks cascade) and revokes the service's inbound tokens. 400 while any
    of its tasks is in a release that has not ended. A dev may delete only its own services."""
    task_services.task_service_delete(service_id=kf_id, caller=request.auth)
    return Status(204, None)
