"""Operator console for the task tracker: filter by project, status and age; act through the
same services the API calls (reset, reclaim, pause)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from domain.common.admin_console import ReadOnlyStateAdmin, pause_actions, run_action
from domain.tracker import models as m
from domain.tracker.projects import (
    project_reclaim_assigned,
    project_reset_failed,
    tasks_retry_failed,
)
from domain.tracker.workers import worker_set_paused


@admin.register(m.Project)
class ProjectAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "name", "priority", "public", "hidden", "paused", "closed_task_count")
    list_filter = ("public", "hidden", "paused")
    search_fields = ("name",)
    # Secrets a worker may be granted, and the key that signs git webhooks: never shown.
    exclude = ("secret", "webhook_secret")
    actions = ("reset_failed", "reclaim_assigned")

    @admin.action(description="Reset failed tasks of the selected projects")
    def reset_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_action(request, queryset, lambda p: project_reset_failed(project_id=p.pk), done="Reset")

    @admin.action(description="Reclaim assigned tasks of the selected projects")
    def reclaim_assigned(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_action(
            request, queryset, lambda p: project_reclaim_assigned(project_id=p.pk), done="Reclaimed"
        )


@admin.register(m.Worker)
class WorkerAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "alias", "paused", "closed_task_count", "created")
    list_filter = ("paused",)
    search_fields = ("alias",)
    exclude = ("secret_hash",)
    actions = pause_actions(
        lambda w, paused: worker_set_paused(worker_id=w.pk, paused=paused),
        pause="Pause the selected workers",
        resume="Resume the selected workers",
    )


@admin.register(m.Task)
class TaskAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "project", "status", "priority", "retries", "max_retries", "assignee")
    list_display += ("assign_time",)
    list_filter = ("status", "project", ("assignee", admin.EmptyFieldListFilter))
    search_fields = ("recipe",)
    list_select_related = ("project", "assignee")
    actions = ("retry",)

    @admin.action(description="Retry the selected failed tasks")
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = tasks_retry_failed(task_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Retried: {retried}.")


@admin.register(m.WorkerAccess)
class WorkerAccessAdmin(ReadOnlyStateAdmin):
    list_display = ("worker", "project", "role_assign", "role_submit", "request")
    list_filter = ("request", "role_assign", "role_submit", "project")
    list_select_related = ("worker", "project")


@admin.register(m.Manager)
class ManagerAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "user", "tracker_admin", "register_time")
    list_filter = ("tracker_admin",)
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(m.ManagerRole)
class ManagerRoleAdmin(ReadOnlyStateAdmin):
    list_display = ("manager", "project", "role")
    list_filter = ("project",)
    list_select_related = ("manager__user", "project")


@admin.register(m.WorkerVerifiesTask)
class WorkerVerifiesTaskAdmin(ReadOnlyStateAdmin):
    list_display = ("task_id", "worker", "verification_hash")
    list_select_related = ("worker",)


@admin.register(m.ClosedTally)
class ClosedTallyAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "project_id", "worker_id")


@admin.register(m.LogEntry)
class LogEntryAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "level", "message", "timestamp")
    list_filter = ("level",)
    search_fields = ("message",)


@admin.register(m.MonitoringSnapshot)
class MonitoringSnapshotAdmin(ReadOnlyStateAdmin):
    list_display = ("project", "time_stamp", "new_task_count", "failed_task_count")
    list_display += ("closed_task_count", "awaiting_verification_count")
    list_filter = ("project",)
    list_select_related = ("project",)
