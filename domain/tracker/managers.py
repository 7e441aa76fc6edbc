"""Managers: Django auth users with a tracker profile (admin flag) and per-project role bitmasks."""

from __future__ import annotations

import time

from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest

from domain.tracker import conf
from domain.tracker.errors import TrackerError
from domain.tracker.models import ROLE_ALL, Manager, ManagerRole, Project

# Serialises "is this the first manager?" across processes.
_FIRST_MANAGER_LOCK = 0x7472_6B01


def manager_from_request(request: HttpRequest) -> Manager | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return Manager.objects.filter(user_id=user.pk).first()


def manager_json(manager: Manager) -> dict:
    return {
        "id": manager.id,
        "username": manager.user.username,
        "tracker_admin": manager.tracker_admin,
        "register_time": manager.register_time,
    }


def manager_register(*, username: str, password: str) -> Manager:
    """Create a manager; the first one becomes tracker admin, as in the original."""
    if not conf.REGISTRATION_OPEN:
        raise TrackerError(403, "Registration is closed")
    if not 3 <= len(username) <= 16 or len(password) < 8:
        raise TrackerError(400, "Invalid register request")
    user_model = get_user_model()
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_FIRST_MANAGER_LOCK])
            first = not Manager.objects.exists()
            user = user_model.objects.create_user(username=username, password=password)
            return Manager.objects.create(
                user=user, tracker_admin=first, register_time=int(time.time())
            )
    except IntegrityError:
        raise TrackerError(
            400, 'pq: duplicate key value violates unique constraint "auth_user_username_key"'
        ) from None


def manager_check_login(*, username: str, password: str):
    user = authenticate(username=username, password=password)
    if user is None or not Manager.objects.filter(user_id=user.pk).exists():
        raise TrackerError(403, "Invalid username/password")
    return user


def manager_role(*, manager: Manager | None, project_id: int) -> int:
    if manager is None:
        return 0
    if manager.tracker_admin:
        return ROLE_ALL
    row = ManagerRole.objects.filter(manager=manager, project_id=project_id).first()
    return row.role if row else 0


def manager_require_role(*, manager: Manager | None, project_id: int, role: int) -> None:
    if manager_role(manager=manager, project_id=project_id) & role != role:
        raise TrackerError(403, "Unauthorized")


def manager_set_role(*, manager_id: int, project_id: int, role: int) -> None:
    if role == 0:
        ManagerRole.objects.filter(manager_id=manager_id, project_id=project_id).delete()
        return
    if not Manager.objects.filter(pk=manager_id).exists():
        raise TrackerError(400, "Invalid request")
    if not Project.objects.filter(pk=project_id).exists():
        raise TrackerError(404, "Project not found")
    try:
        with transaction.atomic():
            ManagerRole.objects.update_or_create(
                manager_id=manager_id, project_id=project_id, defaults={"role": role}
            )
    except IntegrityError:
        # A concurrent change of the same pair, or the project vanished meanwhile.
        raise TrackerError(400, "Invalid request") from None


def managers_list() -> list[dict]:
    return [manager_json(m) for m in Manager.objects.select_related("user").order_by("id")]


def project_managers(*, project_id: int) -> list[dict]:
    rows = ManagerRole.objects.filter(project_id=project_id).select_related("manager__user")
    return [{"manager": manager_json(r.manager), "role": r.role} for r in rows.order_by("id")]


def manager_set_admin(*, actor: Manager, manager_id: int, admin: bool) -> None:
    if not actor.tracker_admin or actor.id == manager_id:
        raise TrackerError(403, "Unauthorized")
    if Manager.objects.filter(pk=manager_id).update(tracker_admin=admin) != 1:
        raise TrackerError(400, "Invalid request")
