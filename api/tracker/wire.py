"""The tracker's wire format: the `{ok, message, rate_limit_delay, content}` envelope, Go-style
JSON decoding, worker-header authentication and routes that answer 404 to a wrong method.

The original decodes bodies with Go's encoding/json whatever the Content-Type: unknown keys are
ignored, keys match case-insensitively, `null` is zero, and a wrong type or an out-of-range
integer fails the whole request. `decode` reproduces those rules for the field kinds we use.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.decorators import decorate_view
from ninja.errors import AuthenticationError

from api.common.families import refuse_oversized_body
from api.tracker import origin
from api.tracker.openapi import Doc
from domain.tracker import conf
from domain.tracker.errors import TrackerError
from domain.tracker.workers import AuthedWorker, worker_authenticate

PARSE_ERROR = "Could not parse request"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTION",
    "Access-Control-Allow-Headers": "Content-Type",
}

I16, I32, I64, F64, BOOL, STR, LIST, ANY = "i16", "i32", "i64", "f64", "bool", "str", "list", "any"
_RANGES = {I16: 1 << 15, I32: 1 << 31, I64: 1 << 63}
_ZERO: dict[str, Any] = {I16: 0, I32: 0, I64: 0, F64: 0.0, BOOL: False, STR: "", LIST: None}
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotFoundPlain(Exception):
    """Unknown route or wrong method: the original's plain-text 404."""


class CorsPreflight(Exception):
    """OPTIONS: the original answers 200 with CORS headers."""


def envelope(
    ok: bool,
    *,
    message: str = "",
    content: Any = None,
    rate_limit_delay: float = 0.0,
    status: int = 200,
) -> HttpResponse:
    """A JSON reply with empty members left out, so a plain success is `{"ok":true}`."""
    body: dict[str, Any] = {"ok": ok}
    if message:
        body["message"] = message
    if rate_limit_delay:
        body["rate_limit_delay"] = rate_limit_delay
    if content is not None:
        body["content"] = content
    return HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def ok(content: Any = None) -> HttpResponse:
    return envelope(True, content=content)


def no_content() -> HttpResponse:
    return HttpResponse(status=204)


def plain_not_found() -> HttpResponse:
    return HttpResponse(b"Not found", status=404, content_type="text/plain; charset=utf-8")


def cors_ok() -> HttpResponse:
    response = HttpResponse(b"", status=200)
    for key, value in CORS_HEADERS.items():
        response[key] = value
    return response


def read_body(request: HttpRequest, limit: int = conf.BODY_MAX_BYTES) -> bytes:
    """The raw body, whatever the Content-Type, refused past `limit` bytes (413)."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit():
        raise TrackerError(400, PARSE_ERROR)
    refuse_oversized_body(length=int(length), limit=limit)
    if int(length) <= (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
        return request.body
    # Reading the stream ourselves skips Django's global DATA_UPLOAD_MAX_MEMORY_SIZE, which is
    # smaller than a legitimate bulk submit.
    return request.read(limit)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise TrackerError(400, PARSE_ERROR) from None


def _string(value: str) -> str:
    # PostgreSQL text cannot hold NUL; Go would replace lone surrogates by U+FFFD.
    if "\x00" in value:
        raise TrackerError(400, PARSE_ERROR)
    return _SURROGATE.sub("\ufffd", value)


def convert(kind: str, value: Any) -> Any:
    """One field under Go's rules; raises the parse error on a type or range mismatch."""
    if value is None:
        return _ZERO.get(kind)
    if kind in _RANGES:
        bound = _RANGES[kind]
        if type(value) is int and -bound <= value < bound:
            return value
    elif kind == F64:
        # Go refuses a number that overflows float64 (Python reads 1e999 as inf).
        if type(value) in (int, float):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
    elif kind == BOOL:
        if type(value) is bool:
            return value
    elif kind == STR:
        if type(value) is str:
            return _string(value)
    elif kind == LIST:
        if type(value) is list:
            return value
    elif kind == ANY:
        return value
    raise TrackerError(400, PARSE_ERROR)


def decode_object(data: Any, spec: dict[str, str]) -> dict[str, Any]:
    out = {key: _ZERO.get(kind) for key, kind in spec.items()}
    if data is None:
        return out
    if type(data) is not dict:
        raise TrackerError(400, PARSE_ERROR)
    for key, value in data.items():
        lowered = key.lower()
        kind = spec.get(lowered)
        if kind is not None:
            out[lowered] = convert(kind, value)
    return out


def decode(request: HttpRequest, spec: dict[str, str]) -> dict[str, Any]:
    return decode_object(parse_json(read_body(request)), spec)


def positive_id(value: str, message: str) -> int:
    """A path id: a positive decimal int64, else TrackerError(400, message)."""
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise TrackerError(400, message)
    number = int(value)
    if number <= 0 or number >= 1 << 63:
        raise TrackerError(400, message)
    return number


class Guard:
    """The auth callable of every tracker route.

    A method the route does not serve is the original's plain 404 (fasthttprouter has no 405),
    OPTIONS is a CORS preflight, a session route refuses a cross-origin browser request, and with
    `worker_status` set the X-Worker-Id / X-Secret headers must name a worker, failing with that
    endpoint's status code (401, 403 or 400).
    """

    def __init__(
        self,
        methods: Iterable[str],
        worker_status: int | None,
        message: str | None,
        session: str | None = None,
    ) -> None:
        self.methods = frozenset(methods)
        self.worker_status = worker_status
        self.message = message
        self.session = session

    def __call__(self, request: HttpRequest) -> AuthedWorker | bool:
        if request.method == "OPTIONS":
            raise CorsPreflight()
        if request.method not in self.methods:
            raise NotFoundPlain()
        origin.check(request, self.session)
        if self.worker_status is None:
            return True
        try:
            return worker_authenticate(
                worker_id=request.META.get("HTTP_X_WORKER_ID"),
                secret=request.META.get("HTTP_X_SECRET"),
                status=self.worker_status,
            )
        except TrackerError as exc:
            if self.message:
                raise TrackerError(exc.status_code, self.message) from None
            raise


def route(
    router: Router,
    path: str,
    methods: Iterable[str] = ("GET",),
    *,
    worker: int | None = None,
    worker_message: str | None = None,
    session: str | None = None,
    doc: Doc | dict[str, Doc] | None = None,
) -> Callable:
    """Register a view for every method; the Guard sorts out the wrong ones. `session` is the
    route's cross-origin policy when the manager session authorises it (api/tracker/origin.py).

    Only the route's own methods are in the OpenAPI document, described by `doc` (one Doc, or
    one per method); the others answer the original's plain 404 and stay out of it."""
    methods = tuple(methods)
    guard = Guard(methods, worker, worker_message, session)
    docs = doc if isinstance(doc, dict) else {method: doc or Doc() for method in methods}

    def register(view: Callable) -> Callable:
        decorate_view(_direct)(view)
        groups: dict[int, tuple[Doc, list[str]]] = {}
        for method in methods:
            groups.setdefault(id(docs[method]), (docs[method], []))[1].append(method)
        for one, group in groups.values():
            router.api_operation(
                group,
                path,
                auth=guard,
                response=one.responses(),
                openapi_extra=one.openapi_extra(path),
                summary=one.summary or None,
                operation_id=_operation_id(view, group if len(groups) > 1 else ()),
            )(view)
        others = [method for method in ALL_METHODS if method not in methods]
        router.api_operation(others, path, auth=guard, include_in_schema=False)(view)
        return view

    return register


def _direct(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """ninja's run, without what a tracker view does not use: a tracker view takes its path
    parameters as the strings the URL holds (PathId is `str`), reads its own body by Go's rules
    and returns its own HttpResponse, so the pydantic model of the path parameters, the
    temporary response and the rendering of returned data are skipped (measured at a tenth of
    the Django side of a `/task/get`). Authentication and error handling are ninja's own: the
    Guard, then the family's exception handlers."""
    operation = run.__self__

    def direct(request: HttpRequest, **path: str) -> HttpResponse:
        try:
            auth = operation.auth_callbacks[0](request)
            if not auth:
                raise AuthenticationError()
            request.auth = auth
            return operation.view_func(request, **path)
        except Exception as exc:  # noqa: BLE001 (every error goes to the family's handlers)
            return operation.api.on_exception(request, exc)

    direct.__wrapped__ = run  # type: ignore[attr-defined]
    return direct


def _operation_id(view: Callable, methods: Iterable[str]) -> str:
    suffix = "".join(f"_{method.lower()}" for method in methods)
    return f"tracker_{view.__module__.rsplit('.', 1)[-1]}_{view.__name__}{suffix}"
