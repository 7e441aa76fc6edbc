"""/git/receivehook: a push to master, signed with the project's webhook secret.

GitHub and Gogs read only the status, and the original answers its errors without the JSON
envelope: a bare 400, or 403 with the plain text "Signature does not match".
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.openapi import EMPTY, EMPTY_HTML, TEXT, Doc, PushIn
from api.tracker.wire import ANY, STR, decode_object, parse_json, read_body, route
from domain.tracker.errors import TrackerError
from domain.tracker.git import SIGNATURE_HEADERS, SIGNATURE_MISMATCH, push_receive

router = Router(tags=["git"])

PUSH_SPEC = {"ref": STR, "after": STR, "repository": ANY}
REPOSITORY_SPEC = {"full_name": STR}


def _hook_error(status: int) -> HttpResponse:
    text = SIGNATURE_MISMATCH.encode() if status == 403 else b""
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


HOOK = Doc(
    summary="A push webhook (GitHub or Gogs), signed with the project's webhook secret",
    body=PushIn,
    ok=None,
    errors=(413,),
    raw={200: EMPTY_HTML, 400: EMPTY, 403: TEXT},
    headers=("X-Hub-Signature", "X-Gogs-Signature"),
)


@route(router, "/git/receivehook", ("POST",), doc=HOOK)
def receivehook(request: HttpRequest) -> HttpResponse:
    try:
        body = read_body(request)
        # Go-style decoding refuses wrong types and NUL and replaces lone surrogates, so what
        # reaches the database query is a clean string whether or not the request is signed.
        push = decode_object(parse_json(body), PUSH_SPEC)
        repository = decode_object(push["repository"], REPOSITORY_SPEC)
    except TrackerError:
        return _hook_error(400)
    found = [(request.META[h], digest) for h, digest in SIGNATURE_HEADERS if request.META.get(h)]
    signature, digest = found[0] if found else ("", SIGNATURE_HEADERS[0][1])
    try:
        push_receive(
            body=body,
            ref=push["ref"],
            full_name=repository["full_name"],
            after=push["after"],
            signature=signature,
            digest=digest,
        )
    except TrackerError as exc:
        return _hook_error(exc.status_code)
    return HttpResponse(b"", status=200)
