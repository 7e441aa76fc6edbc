"""One NinjaAPI per wire family, each with its own error envelope, OpenAPI document and docs page.

A family is described by how it renders an error; `build_family_api` wires the same domain
exceptions into every family so a handler exists once and only the envelope differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from domain.common.errors import DomainError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Family:
    """How one wire family spells an error."""

    name: str
    title: str
    version: str
    description: str
    error_body: Callable[[str, int], Any]
    validation_body: Callable[[list[dict]], Any]

    @property
    def docs_path(self) -> str:
        return f"/_/{self.name}/docs"

    @property
    def openapi_path(self) -> str:
        return f"/_/{self.name}/openapi.json"


def field_messages(errors: list[dict]) -> dict[str, list[str]]:
    """Pydantic errors as DRF-style `{field: [message, …]}`."""
    out: dict[str, list[str]] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "payload")]
        key = ".".join(loc) or "non_field_errors"
        out.setdefault(key, []).append(str(err.get("msg", "Invalid value.")))
    return out


def first_message(errors: list[dict]) -> str:
    msgs = field_messages(errors)
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in msgs.items()) or "Invalid request"


TOO_LARGE = "Request body is too large."


def refuse_oversized_body(*, length: int, limit: int) -> None:
    """For a family that reads its body itself: past `limit` bytes, the same 413 that Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE gives every other family (see `_install_error_handlers`)."""
    if length > limit:
        raise RequestDataTooBig(TOO_LARGE)


def build_family_api(family: Family, **kwargs: Any) -> NinjaAPI:
    api = NinjaAPI(
        title=family.title,
        version=family.version,
        description=family.description,
        urls_namespace=family.name,
        docs_url=family.docs_path,
        openapi_url=family.openapi_path,
        **kwargs,
    )
    _install_error_handlers(api, family)
    return api


def _install_error_handlers(api: NinjaAPI, family: Family) -> None:
    def respond(request: HttpRequest, status: int, body: Any) -> HttpResponse:
        return api.create_response(request, body, status=status)

    def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return respond(request, exc.status_code, family.error_body(exc.message, exc.status_code))

    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return respond(request, 400, family.validation_body(list(exc.errors)))

    def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        message = "Authentication credentials were not provided or are not valid."
        return respond(request, 401, family.error_body(message, 401))

    def on_forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        return respond(request, 403, family.error_body(exc.message, 403))

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return respond(
            request, exc.status_code, family.error_body(str(exc.message), exc.status_code)
        )

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, family.error_body(str(exc) or "Not found.", 404))

    def on_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        # Django raises it from request.body past DATA_UPLOAD_MAX_MEMORY_SIZE, wherever an
        # operation first reads the body; the body itself is never read.
        return respond(request, 413, family.error_body(TOO_LARGE, 413))

    def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        # Too many form fields or files, a forged host: bad input, which Django answers 400.
        logger.warning("suspicious request to %s: %s", request.path, type(exc).__name__)
        return respond(request, 400, family.error_body("Bad request.", 400))

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        # A bug, not bad input: log it with its traceback and answer in the family's format.
        logger.exception("unhandled error in %s API on %s", family.name, request.path)
        return respond(request, 500, family.error_body("Internal server error", 500))

    api.add_exception_handler(Exception, on_unexpected)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(SuspiciousOperation, on_suspicious)
    api.add_exception_handler(RequestDataTooBig, on_too_large)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(AuthenticationError, on_unauthenticated)
    api.add_exception_handler(AuthorizationError, on_forbidden)
    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(DomainError, on_domain_error)
