"""Shared pieces of the releases family's routers: hyperlinks, serializers, auth, references."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from api.common.links import base_url
from domain.common.errors import DomainError, Forbidden, InvalidInput
from domain.common.ids import is_kf_id
from domain.common.models import Role
from domain.common.tokens import Caller, bearer_authenticate
from domain.releases.errors import FieldErrors
from domain.releases.models import Event, Release, ReleaseNote, Study, Task, TaskService

SELECT_VALID = "Select a valid choice. That choice is not one of the available choices."


class MethodNotAllowed(DomainError):
    status_code = 405

    def __init__(self, method: str) -> None:
        super().__init__(f'Method "{method}" not allowed.')


class CredentialsMissing(DomainError):
    status_code = 403


class RoleAuth(HttpBearer):
    """A bearer API token, or an OIDC JWT when configured, whose role is one of `roles` (403 with
    `message` otherwise). An invalid JWT is no credential: the same 403 as a missing token."""

    def __init__(self, roles: Iterable[str], message: str) -> None:
        super().__init__()
        self.roles = frozenset(roles)
        self.message = message

    def __call__(self, request: HttpRequest) -> Caller:
        # The original (DRF) answers a write without valid credentials with 403 and this text;
        # the family's own token routes (/_/releases/…) keep the foundation's 401.
        found = super().__call__(request)
        if found is None:
            raise CredentialsMissing("Authentication credentials were not provided.")
        return found

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        found = bearer_authenticate(credential=token)
        if found is None:
            return None
        if found.role not in self.roles:
            raise AuthorizationError(message=self.message)
        return found


admin_auth = RoleAuth((Role.ADMIN,), "Must be an admin")
developer_auth = RoleAuth((Role.ADMIN, Role.DEV), "Must be a developer")
person_auth = RoleAuth((Role.ADMIN, Role.DEV, Role.USER), "Not allowed")
task_writer_auth = RoleAuth((Role.ADMIN, Role.SERVICE), "Must be an admin")
trigger_auth = RoleAuth((Role.ADMIN, Role.SERVICE), "Must be an admin or a service")


def require_study_groups(token: Caller, study_ids: Iterable[str]) -> None:
    """Admins may touch any release; anyone else only releases whose studies are all theirs."""
    if token.role == Role.ADMIN:
        return
    groups = set(token.study_groups or [])
    ids = set(study_ids)
    if not ids or not ids <= groups:
        raise Forbidden("Not allowed")


# --- null characters -----------------------------------------------------------------------------

NUL_MESSAGE = "Null characters are not allowed."


def _has_nul(value: Any) -> bool:
    # A walk with its own stack, not recursion: json.loads accepts nesting deeper than the
    # interpreter's recursion limit leaves room for below this frame.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _nul_fields(items: Iterable[tuple[str, Any]]) -> FieldErrors | None:
    bad = [k for k, v in items if _has_nul(k) or _has_nul(v)]
    if not bad:
        return None
    return FieldErrors({k.replace("\x00", "") or "non_field_errors": [NUL_MESSAGE] for k in bad})


def _body_nul(request: HttpRequest) -> DomainError | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    try:
        raw = request.body
    except Exception:  # noqa: BLE001 (too big or unreadable: the operation answers that itself)
        return None
    if b"\x00" in raw:
        return InvalidInput(NUL_MESSAGE)
    # JSON can carry a NUL only as the escape \u0000: skip the second parse when it is absent.
    if b"\\u0000" not in raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None  # malformed or too deeply nested: the operation's parser answers 400
    if isinstance(data, dict):
        return _nul_fields(data.items())
    return InvalidInput(NUL_MESSAGE) if _has_nul(data) else None


def null_characters(request: HttpRequest) -> DomainError | None:
    """A NUL anywhere in the path, the query or a JSON body, refused as DRF's CharField does.
    PostgreSQL can neither store nor compare a string holding NUL, so without this one check
    every filter, path id and text field of the family would answer 500."""
    if "\x00" in request.path:
        return InvalidInput(NUL_MESSAGE)
    return _nul_fields(request.GET.lists()) or _body_nul(request)


# --- hyperlinks ----------------------------------------------------------------------------------


def link(request: HttpRequest, collection: str, kf_id: str | None) -> str | None:
    return f"{base_url(request)}/{collection}/{kf_id}" if kf_id else None


def ref(value: Any, field: str, prefix: str, *, required: bool = False) -> str | None:
    """A related object given as its URL (as the original's hyperlinked serializers want) or as
    its bare kf_id. Returns the kf_id; the caller checks that it exists."""
    if value is None or value == "":
        if required:
            raise FieldErrors({field: ["This field is required."]})
        return None
    if not isinstance(value, str):
        raise FieldErrors({field: ["Incorrect type. Expected URL string."]})
    candidate = value.rstrip("/").rsplit("/", 1)[-1]
    if not is_kf_id(candidate, prefix):
        raise FieldErrors({field: ["Invalid hyperlink - No URL match."]})
    return candidate


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- serializers ---------------------------------------------------------------------------------


def task_body(request: HttpRequest, task: Task) -> dict:
    return {
        "kf_id": task.kf_id,
        "state": task.state,
        "progress": task.progress,
        "release": link(request, "releases", task.release_id),
        "task_service": link(request, "task-services", task.task_service_id),
        "created_at": iso(task.created_at),
        "service_name": task.task_service.name,
    }


def release_body(request: HttpRequest, release: Release) -> dict:
    return {
        "kf_id": release.kf_id,
        "name": release.name,
        "description": release.description,
        "notes": [link(request, "release-notes", n.kf_id) for n in release.notes.all()],
        "state": release.state,
        "studies": sorted(s.kf_id for s in release.studies.all()),
        "tasks": [
            task_body(request, t)
            for t in sorted(release.tasks.all(), key=lambda t: t.created_at, reverse=True)
        ],
        "version": release.version,
        "created_at": iso(release.created_at),
        "tags": list(release.tags or []),
        "author": release.author,
        "is_major": release.is_major,
    }


def health_status(service: TaskService) -> str:
    from domain.releases import conf

    return "down" if service.last_ok_status >= conf.HEALTH_DOWN_AFTER else "ok"


def service_body(request: HttpRequest, service: TaskService) -> dict:
    # outbound_token is a secret: it is never part of any answer.
    return {
        "kf_id": service.kf_id,
        "name": service.name,
        "description": service.description,
        "last_ok_status": service.last_ok_status,
        "author": service.author,
        "health_status": health_status(service),
        "url": service.url,
        "created_at": iso(service.created_at),
        "enabled": service.enabled,
    }


def note_body(request: HttpRequest, note: ReleaseNote) -> dict:
    return {
        "kf_id": note.kf_id,
        "description": note.description,
        "author": note.author,
        "created_at": iso(note.created_at),
        "release": link(request, "releases", note.release_id),
        "study": link(request, "studies", note.study_id),
    }


def event_body(request: HttpRequest, event: Event) -> dict:
    return {
        "kf_id": event.kf_id,
        "event_type": event.event_type,
        "message": event.message,
        "release": link(request, "releases", event.release_id),
        "task_service": link(request, "task-services", event.task_service_id),
        "task": link(request, "tasks", event.task_id),
        "created_at": iso(event.created_at),
    }


def study_body(request: HttpRequest, study: Study) -> dict:
    return {
        "kf_id": study.kf_id,
        "name": study.name,
        "version": getattr(study, "current_version", None),
        "visible": study.visible,
        "last_pub_version": getattr(study, "last_pub_version", None),
        "last_pub_date": iso(getattr(study, "last_pub_date", None)),
        "deleted": study.deleted,
        "created_at": iso(study.created_at),
    }


def not_null(payload: dict, *fields: str) -> None:
    nulls = {
        f: ["This field may not be null."] for f in fields if f in payload and payload[f] is None
    }
    if nulls:
        raise FieldErrors(nulls)
