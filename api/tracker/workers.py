"""/worker/*: create (open but limited per address, or an API token), update (worker), get,
stats, set_paused (admin session)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.openapi import EMPTY_HTML, SESSION, WORKER, AliasIn, AnyBody, Doc, PathId, PausedIn
from api.tracker.origin import WRITES
from api.tracker.wire import BOOL, I64, STR, decode, envelope, ok, positive_id, route
from domain.common.models import Role
from domain.common.tokens import bearer_authenticate
from domain.tracker import conf
from domain.tracker.errors import TrackerError
from domain.tracker.managers import manager_from_request
from domain.tracker.models import Worker
from domain.tracker.workers import (
    worker_create,
    worker_creation_reserve,
    worker_json,
    worker_set_paused,
    worker_stats,
    worker_update,
)

router = Router(tags=["workers"])


CREATE = Doc(
    summary="Create a worker; its secret is in this reply only",
    # Any body: one that does not decode as `{"alias": …}` gets the original's empty 200.
    body=AnyBody,
    errors=(401, 403, 413, 429),
    # Open by default; with TRACKER_WORKER_CREATE=token an admin or dev API token.
    security=({}, {"TokenAuth": []}),
    # A body that does not parse is the original's 200 with nothing in it.
    raw={200: EMPTY_HTML},
)


@route(router, "/worker/create", ("POST",), doc=CREATE)
def create(request: HttpRequest) -> HttpResponse:
    _admit_creation(request)
    try:
        body = decode(request, {"alias": STR})
    except TrackerError:
        # The original answers an unparseable body with 200 and nothing in it.
        return HttpResponse(b"", status=200)
    worker, secret = worker_create(alias=body["alias"])
    out = {**worker_json(worker), "secret": secret}
    return ok({"worker": out})


def _admit_creation(request: HttpRequest) -> None:
    """Anyone may create a worker (the original's drones do so on first start), at most
    TRACKER_WORKER_CREATE_BURST at once and TRACKER_WORKER_CREATE_RATE per second per client
    address; with TRACKER_WORKER_CREATE=token only an admin or dev API token may."""
    if conf.WORKER_CREATE == conf.WORKER_CREATE_TOKEN:
        scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        bearer = scheme.lower() == "bearer" and credential
        caller = bearer_authenticate(credential=credential) if bearer else None
        if caller is None:
            raise TrackerError(401, "Unauthorized")
        if caller.role not in (Role.ADMIN, Role.DEV):
            raise TrackerError(403, "Unauthorized")
        return
    worker_creation_reserve(client=request.META.get("REMOTE_ADDR", ""))


@route(
    router,
    "/worker/update",
    ("POST",),
    worker=401,
    doc=Doc(
        summary="Change the calling worker's alias",
        body=AliasIn,
        errors=(400, 401, 413),
        security=(WORKER,),
    ),
)
def update(request: HttpRequest) -> HttpResponse:
    body = decode(request, {"alias": STR})
    if not worker_update(worker_id=request.auth.id, alias=body["alias"]):
        return envelope(False, message="Could not update worker")
    return ok()


@route(
    router, "/worker/get/{wid}", doc=Doc(summary="A worker (never its secret)", errors=(400, 404))
)
def get(request: HttpRequest, wid: PathId) -> HttpResponse:
    worker = Worker.objects.filter(pk=positive_id(wid, "Invalid worker id")).first()
    if worker is None:
        raise TrackerError(404, "Worker not found")
    # Unlike the original, not even an admin sees the secret again: only its hash is stored.
    return ok({"worker": worker_json(worker)})


@route(router, "/worker/stats", doc=Doc(summary="Closed tasks per worker alias"))
def stats(request: HttpRequest) -> HttpResponse:
    return ok({"stats": worker_stats()})


@route(
    router,
    "/worker/set_paused",
    ("POST",),
    session=WRITES,
    doc=Doc(
        summary="Pause or resume a worker (tracker admin)",
        body=PausedIn,
        errors=(400, 403, 413),
        security=(SESSION,),
    ),
)
def set_paused(request: HttpRequest) -> HttpResponse:
    manager = manager_from_request(request)
    if manager is None or not manager.tracker_admin:
        raise TrackerError(403, "Unauthorized")
    body = decode(request, {"worker": I64, "paused": BOOL})
    worker_set_paused(worker_id=body["worker"], paused=body["paused"])
    return ok()
