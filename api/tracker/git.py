"""/git/receivehook: a push to master, signed with the project's webhook secret."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.wire import parse_json, read_body, route
from domain.tracker.errors import TrackerError
from domain.tracker.git import SIGNATURE_HEADERS, receive_push

router = Router(tags=["git"])


@route(router, "/git/receivehook", ("POST",))
def receivehook(request: HttpRequest) -> HttpResponse:
    body = read_body(request)
    found = [(request.META[h], digest) for h, digest in SIGNATURE_HEADERS if request.META.get(h)]
    if not found:
        raise TrackerError(403, "Signature does not match")
    signature, digest = found[0]
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise TrackerError(400, "Invalid request")
    receive_push(body=body, payload=payload, signature_header=signature, digest=digest)
    return HttpResponse(b"", status=200)
