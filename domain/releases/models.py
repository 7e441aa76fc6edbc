"""Release Coordinator models (specs/release-coordinator.md §1).

Waiting is a state in these rows, never a sleeping worker: `state_changed_at` drives timeouts and
the reconciler, `next_check_at` drives the poll sweep.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from domain.common.ids import new_kf_id


def new_release_id() -> str:
    return new_kf_id("RE")


def new_task_id() -> str:
    return new_kf_id("TA")


def new_service_id() -> str:
    return new_kf_id("TS")


def new_event_id() -> str:
    return new_kf_id("EV")


def new_note_id() -> str:
    return new_kf_id("RN")


class ReleaseState(models.TextChoices):
    WAITING = "waiting"
    INITIALIZING = "initializing"
    RUNNING = "running"
    STAGED = "staged"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    CANCELING = "canceling"
    CANCELED = "canceled"
    FAILED = "failed"


class TaskState(models.TextChoices):
    WAITING = "waiting"
    INITIALIZED = "initialized"
    RUNNING = "running"
    STAGED = "staged"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELED = "canceled"


class EventType(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Study(models.Model):
    """Mirrored from the dataservice; never created through the API."""

    kf_id = models.CharField(max_length=11, primary_key=True)
    name = models.CharField(max_length=256, blank=True, default="")
    visible = models.BooleanField(default=True)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "kf_id"]


class TaskService(models.Model):
    kf_id = models.CharField(max_length=11, primary_key=True, default=new_service_id)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    url = models.CharField(max_length=200)
    author = models.CharField(max_length=100)
    last_ok_status = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    # A secret we must send as-is, so it cannot be hashed. Never serialized, never logged.
    outbound_token = models.CharField(max_length=2000, blank=True, default="")
    # Who registered the service (see task_services.caller_key): a dev may change or delete only
    # the services it registered. Null (unknown, not "nobody") on rows older than this column:
    # admins only.
    registered_by = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]


class Release(models.Model):
    kf_id = models.CharField(max_length=11, primary_key=True, default=new_release_id)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=256)
    description = models.CharField(max_length=5000, blank=True, default="")
    author = models.CharField(max_length=100, default="admin")
    state = models.CharField(
        max_length=20, choices=ReleaseState.choices, default=ReleaseState.WAITING
    )
    tags = models.JSONField(default=list, blank=True)
    studies = models.ManyToManyField(Study, related_name="releases")
    version = models.CharField(max_length=50, default="0.0.0")
    is_major = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # Where a canceling release ends: `failed` once any failure joined the cancel.
    cancel_outcome = models.CharField(max_length=20, blank=True, default="")
    # When the reconciler last re-drove this release (it waits RECONCILE_AFTER between tries).
    redriven_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "state_changed_at"])]


class Task(models.Model):
    kf_id = models.CharField(max_length=11, primary_key=True, default=new_task_id)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=20, choices=TaskState.choices, default=TaskState.WAITING)
    progress = models.IntegerField(default=0)
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="tasks")
    task_service = models.ForeignKey(TaskService, on_delete=models.CASCADE, related_name="tasks")
    created_at = models.DateTimeField(default=timezone.now)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # When the poll sweep may next ask the service for this task's status.
    next_check_at = models.DateTimeField(null=True, blank=True)
    # An action (`start`/`publish`) the task already moved for but the service has not yet
    # acknowledged; the reconciler re-sends it if its message was lost.
    pending_action = models.CharField(max_length=20, blank=True, default="")
    # When the service last pushed a report (PATCH). A poll answer sent before it is stale.
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_check_at"]),
            models.Index(fields=["state", "state_changed_at"]),
        ]


class Event(models.Model):
    kf_id = models.CharField(max_length=11, primary_key=True, default=new_event_id)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=10, choices=EventType.choices, default="info")
    message = models.CharField(max_length=1000, blank=True, default="")
    release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    task_service = models.ForeignKey(
        TaskService, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]


class ReleaseNote(models.Model):
    kf_id = models.CharField(max_length=11, primary_key=True, default=new_note_id)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    author = models.CharField(max_length=100, default="admin")
    description = models.CharField(max_length=5000, blank=True, default="")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="notes")
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
