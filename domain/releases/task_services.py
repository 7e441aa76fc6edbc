"""Task-service registration: who may change a service, its inbound token, its health."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from domain.common.errors import Forbidden, InvalidInput, NotFound
from domain.common.models import ApiToken, Role
from domain.common.rows import row_save_fields
from domain.common.steps import step_run
from domain.common.tokens import Caller, IssuedToken, token_create
from domain.releases.machines import RELEASE_TERMINAL
from domain.releases.models import Task, TaskService
from domain.releases.steps import CheckHealth


def task_service_subject(*, service_id: str) -> str:
    return f"task-service:{service_id}"


def caller_key(*, caller: Caller) -> str | None:
    """Who a caller is, as stored in TaskService.registered_by: the API token's id, or a JWT's
    subject. None for a JWT without a subject, which therefore owns nothing."""
    if isinstance(caller, ApiToken):
        return f"token:{caller.pk}"
    return f"oidc:{caller.subject}" if caller.subject else None


def task_service_authorize(*, service: TaskService, caller: Caller) -> None:
    """Forbidden unless `caller` may change or delete `service`: admins any, a dev only one it
    registered (never a row registered before registrants were recorded: its owner is unknown).
    The API asks before it contacts a new url; every write below asks again."""
    if caller.role == Role.ADMIN:
        return
    key = caller_key(caller=caller)
    if key is None or service.registered_by != key:
        raise Forbidden("You may change only task services you registered.")


def task_service_create(
    *,
    name: str,
    url: str,
    author: str,
    description: str = "",
    enabled: bool = True,
    outbound_token: str = "",
    registered_by: str | None = None,
) -> tuple[TaskService, IssuedToken]:
    """Register a service and mint its inbound token (role service, bound to this service)."""
    with transaction.atomic():
        service = TaskService.objects.create(
            name=name,
            url=url,
            author=author,
            description=description,
            enabled=enabled,
            outbound_token=outbound_token,
            registered_by=registered_by,
        )
        issued = token_create(
            role="service",
            name=f"task service {name}"[:100],
            subject=task_service_subject(service_id=service.pk),
        )
    return service, issued


def _lock_service(service_id: str) -> TaskService:
    service = TaskService.objects.select_for_update().filter(pk=service_id).first()
    if service is None:
        raise NotFound("Not found.")
    return service


def task_service_update(*, service_id: str, caller: Caller, changes: dict[str, Any]) -> TaskService:
    """Apply `changes`. A new url drops the stored outbound token unless `changes` carries one:
    the token was given for the old host and must never be sent to another."""
    changes = dict(changes)
    with transaction.atomic():
        service = _lock_service(service_id)
        task_service_authorize(service=service, caller=caller)
        if changes.get("url", service.url) != service.url:
            changes.setdefault("outbound_token", "")
        row_save_fields(row=service, fields=changes)
    return service


def task_service_delete(*, service_id: str, caller: Caller) -> None:
    """Delete the service (its tasks cascade) and revoke its inbound tokens. Refused (400) while
    any of its tasks belongs to a release that has not ended: deleting it would strand that
    release, which would wait for a service that no longer exists."""
    with transaction.atomic():
        # Under the row lock no task for this service can commit until we do: a prepare that
        # raced us fails its foreign-key check at commit, and the reconciler re-drives it
        # without this service.
        service = _lock_service(service_id)
        task_service_authorize(service=service, caller=caller)
        live = list(
            Task.objects.filter(task_service_id=service_id)
            .exclude(release__state__in=RELEASE_TERMINAL)
            .order_by("release_id")
            .values_list("release_id", flat=True)
            .distinct()
        )
        if live:
            raise InvalidInput(
                "This task service has tasks in releases that have not ended "
                f"({', '.join(live)}): cancel those releases or wait until they end."
            )
        service.delete()
        ApiToken.objects.filter(
            subject=task_service_subject(service_id=service_id), revoked_at__isnull=True
        ).update(revoked_at=timezone.now())


def task_service_record_health(*, service_id: str, ok: bool) -> None:
    if ok:
        TaskService.objects.filter(pk=service_id).update(last_ok_status=0)
    else:
        TaskService.objects.filter(pk=service_id).update(last_ok_status=F("last_ok_status") + 1)


def task_services_check_health() -> int:
    """Ask every service, enabled or not, for its health (spec §3.2; informational only): the
    beat sweep and the compatibility trigger. The enqueue happens now: a broker error reaches
    the caller (the trigger answers 503). Returns how many services are asked."""
    ids = tuple(TaskService.objects.order_by("created_at").values_list("kf_id", flat=True))
    step_run(CheckHealth(service_ids=ids))
    return len(ids)
