"""The Release Coordinator wire family: /releases, /tasks, /task-services, /release-notes, /events,
/studies. Errors are DRF-style: `{"detail": …}` or `{field: [messages]}`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, get_type_hints

from django.http import HttpRequest, HttpResponse

from api.common.families import Family, build_family_api, field_messages
from api.common.tokens import token_router
from api.releases.auth import CredentialsMissing
from api.releases.errors import MethodNotAllowed
from api.releases.screening import body_not_object, null_characters
from domain.releases.errors import FieldErrors

FAMILY = Family(
    name="releases",
    title="Regatta — Release Coordinator API",
    version="1.9.3-regatta",
    description="Releases fan out to every enabled task service, stage, and publish on request.",
    error_body=lambda message, status: {"detail": message},
    validation_body=field_messages,
)

api = build_family_api(FAMILY)
api.add_router("/_/releases", token_router(FAMILY.name))


def _field_errors(request: HttpRequest, exc: FieldErrors) -> HttpResponse:
    return api.create_response(request, exc.fields, status=400)


api.add_exception_handler(FieldErrors, _field_errors)


def _method_not_allowed(request: HttpRequest, exc: MethodNotAllowed) -> HttpResponse:
    response = api.create_response(request, {"detail": exc.message}, status=405)
    response["Allow"] = ", ".join(exc.allowed)
    return response


api.add_exception_handler(MethodNotAllowed, _method_not_allowed)


def _credentials_missing(request: HttpRequest, exc: CredentialsMissing) -> HttpResponse:
    response = api.create_response(request, {"detail": exc.message}, status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


api.add_exception_handler(CredentialsMissing, _credentials_missing)


def _body_fields(run: Callable[..., HttpResponse]) -> frozenset[str] | None:
    """The fields of the operation's body (`payload`), or None when it takes no body. `run` is
    the bound Operation.run, whose view names its body `payload`."""
    schema = get_type_hints(run.__self__.view_func).get("payload")
    return None if schema is None else frozenset(schema.model_fields)


def _screen_input(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every operation of the family, before parsing or auth: NUL in the input is a 400, and so
    is a JSON body other than an object where the operation takes a body (`payload`)."""
    body_fields = _body_fields(run)

    @wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = null_characters(request, body_fields=body_fields)
        if problem is None and body_fields is not None:
            problem = body_not_object(request)
        if problem is not None:
            return api.on_exception(request, problem)
        return run(request, *args, **kwargs)

    return checked


api.add_decorator(_screen_input, mode="view")


def _mount() -> None:
    from api.releases import events, notes, releases, studies, task_services, tasks

    for module in (releases, tasks, task_services, notes, events, studies):
        api.add_router("", module.router)


_mount()
