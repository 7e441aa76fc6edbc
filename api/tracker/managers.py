"""/register, /login, /logout, /account and /manager/*: Django users and sessions."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.tracker.openapi import NO_BODY, SESSION, CredentialsIn, Doc, LoginIn, PathId, RoleIn
from api.tracker.origin import ALWAYS, SAME_ORIGIN, WRITES
from api.tracker.wire import I64, STR, decode, envelope, no_content, ok, positive_id, route
from domain.tracker.errors import TrackerError
from domain.tracker.managers import (
    manager_check_login,
    manager_from_request,
    manager_json,
    manager_register,
    manager_require_role,
    manager_set_admin,
    manager_set_role,
    managers_list,
    project_managers,
)
from domain.tracker.models import ROLE_MANAGE_ACCESS, Manager

router = Router(tags=["managers"])
CREDENTIALS = {"username": STR, "password": STR}


def _session_manager(request: HttpRequest) -> Manager:
    manager = manager_from_request(request)
    if manager is None:
        raise TrackerError(401, "Unauthorized")
    return manager


@route(
    router,
    "/register",
    ("POST",),
    session=WRITES,
    doc=Doc(summary="Register a manager and log in", body=CredentialsIn, errors=(400, 403, 413)),
)
def register(request: HttpRequest) -> HttpResponse:
    body = decode(request, CREDENTIALS)
    manager = manager_register(username=body["username"], password=body["password"])
    login(request, manager.user, backend="django.contrib.auth.backends.ModelBackend")
    return ok()


@route(
    router,
    "/login",
    ("POST",),
    session=WRITES,
    doc=Doc(summary="Log in (Django session cookie)", body=LoginIn, errors=(400, 403, 413)),
)
def login_view(request: HttpRequest) -> HttpResponse:
    body = decode(request, CREDENTIALS)
    user = manager_check_login(username=body["username"], password=body["password"])
    login(request, user)
    return ok({"manager": manager_json(user.tracker_manager)})


@route(
    router,
    "/logout",
    session=ALWAYS,
    doc=Doc(summary="Log out", ok=None, errors=(403,), raw={204: NO_BODY}),
)
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return no_content()


@route(
    router,
    "/account",
    doc=Doc(summary="The logged-in manager; ok false when nobody is", security=({}, SESSION)),
)
def account(request: HttpRequest) -> HttpResponse:
    manager = manager_from_request(request)
    if manager is None:
        return envelope(False, content={"logged_in": False})
    return ok({"logged_in": True, "manager": manager_json(manager)})


@route(
    router, "/manager/list", doc=Doc(summary="Every manager", errors=(401,), security=(SESSION,))
)
def manager_list(request: HttpRequest) -> HttpResponse:
    _session_manager(request)
    return ok({"managers": managers_list()})


@route(
    router,
    "/manager/list_for_project/{pid}",
    doc=Doc(summary="Managers with a role on a project", errors=(400, 401), security=(SESSION,)),
)
def list_for_project(request: HttpRequest, pid: PathId) -> HttpResponse:
    _session_manager(request)
    return ok({"managers": project_managers(project_id=positive_id(pid, "Invalid request"))})


def _admin_change(summary: str) -> Doc:
    return Doc(
        summary=summary,
        ok=None,
        errors=(400, 401, 403, 404),
        security=(SESSION,),
        raw={204: NO_BODY},
    )


@route(
    router,
    "/manager/promote/{mid}",
    session=SAME_ORIGIN,
    doc=_admin_change("Make a manager tracker admin (same-origin pages only)"),
)
def promote(request: HttpRequest, mid: PathId) -> HttpResponse:
    actor = _session_manager(request)
    manager_set_admin(actor=actor, manager_id=positive_id(mid, "Invalid request"), admin=True)
    return no_content()


@route(
    router,
    "/manager/demote/{mid}",
    session=SAME_ORIGIN,
    doc=_admin_change("Take tracker admin away (same-origin pages only)"),
)
def demote(request: HttpRequest, mid: PathId) -> HttpResponse:
    actor = _session_manager(request)
    manager_set_admin(actor=actor, manager_id=positive_id(mid, "Invalid request"), admin=False)
    return no_content()


@route(
    router,
    "/manager/set_role_for_project/{pid}",
    ("POST",),
    session=WRITES,
    doc=Doc(
        summary="Set a manager's role bitmask on a project",
        body=RoleIn,
        errors=(400, 403, 404, 413),
        security=(SESSION,),
    ),
)
def set_role(request: HttpRequest, pid: PathId) -> HttpResponse:
    project_id = positive_id(pid, "Invalid request")
    body = decode(request, {"manager": I64, "role": I64})
    manager_require_role(
        manager=manager_from_request(request), project_id=project_id, role=ROLE_MANAGE_ACCESS
    )
    if not 0 <= body["role"] <= 31:
        raise TrackerError(400, "Invalid request")
    manager_set_role(manager_id=body["manager"], project_id=project_id, role=body["role"])
    return ok()
