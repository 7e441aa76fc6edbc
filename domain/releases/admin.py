"""Operator console for releases: filter by state, service and age; act through the services."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from domain.common.admin_console import ReadOnlyStateAdmin, console_caller, run_action
from domain.releases import services, task_services
from domain.releases.models import Event, Release, ReleaseNote, Study, Task, TaskService


@admin.register(Release)
class ReleaseAdmin(ReadOnlyStateAdmin):
    list_display = ("kf_id", "name", "version", "state", "author", "created_at", "state_changed_at")
    list_filter = ("state", "is_major", "created_at", "state_changed_at")
    search_fields = ("kf_id", "name", "author")
    date_hierarchy = "created_at"
    actions = ("cancel",)

    @admin.action(description="Cancel the selected releases")
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_action(
            request, queryset, lambda r: services.release_cancel(release_id=r.pk), done="Canceling"
        )


@admin.register(Task)
class TaskAdmin(ReadOnlyStateAdmin):
    list_display = ("kf_id", "release", "task_service", "state", "progress", "state_changed_at")
    list_filter = ("state", "task_service", "created_at", "state_changed_at")
    search_fields = ("kf_id", "release__kf_id")
    list_select_related = ("release", "task_service")
    date_hierarchy = "created_at"


@admin.register(TaskService)
class TaskServiceAdmin(ReadOnlyStateAdmin):
    list_display = ("kf_id", "name", "url", "enabled", "last_ok_status", "author", "created_at")
    list_filter = ("enabled", "created_at")
    search_fields = ("kf_id", "name", "url")
    # The token Regatta sends to the service is a credential: never shown.
    exclude = ("outbound_token",)
    actions = ("enable", "disable")

    @admin.action(description="Enable the selected task services")
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable the selected task services")
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, enabled=False)

    @staticmethod
    def _set_enabled(request: HttpRequest, queryset: QuerySet, *, enabled: bool) -> None:
        run_action(
            request,
            queryset,
            lambda s: task_services.task_service_update(
                service_id=s.pk, caller=console_caller(request), changes={"enabled": enabled}
            ),
            done="Enabled" if enabled else "Disabled",
        )


@admin.register(Event)
class EventAdmin(ReadOnlyStateAdmin):
    list_display = ("kf_id", "event_type", "message", "release", "task_service", "created_at")
    list_filter = ("event_type", "task_service", "created_at")
    search_fields = ("kf_id", "message", "release__kf_id")
    list_select_related = ("release", "task_service")


@admin.register(ReleaseNote)
class ReleaseNoteAdmin(ReadOnlyStateAdmin):
    list_display = ("kf_id", "release", "study", "author", "created_at")
    search_fields = ("kf_id", "release__kf_id", "study__kf_id")
    list_select_related = ("release", "study")


@admin.register(Study)
class StudyAdmin(ReadOnlyStateAdmin):
    list_display = ("kf_id", "name", "visible", "deleted", "created_at")
    list_filter = ("visible", "deleted")
    search_fields = ("kf_id", "name")
