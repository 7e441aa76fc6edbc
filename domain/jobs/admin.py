"""Operator console for Scale: job types (pause, resume), their revisions and tags, workspaces
(deprecate, restore), errors, the secret store (which keys exist, never a value), jobs (cancel),
their executions and events, files and load measurements."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from domain.common.admin_console import ReadOnlyStateAdmin, pause_actions, run_action
from domain.jobs.job_types import job_type_edit
from domain.jobs.models import (
    Error,
    Job,
    JobEvent,
    JobExecution,
    JobLoad,
    JobType,
    JobTypeRevision,
    JobTypeTag,
    ScaleFile,
    StoredSecret,
    Workspace,
)
from domain.jobs.queueing import jobs_cancel
from domain.jobs.workspaces import workspace_edit


@admin.register(JobType)
class JobTypeAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "name", "version", "revision_num", "is_active", "is_paused")
    list_display += ("max_scheduled", "docker_image", "last_modified")
    list_filter = ("is_active", "is_paused", "is_system", "is_published", "last_modified")
    search_fields = ("name", "version", "docker_image")
    actions = pause_actions(
        lambda j, paused: job_type_edit(
            name=j.name, version=j.version, changes={"is_paused": paused}
        ),
        pause="Pause the selected job types (their jobs stay queued)",
        resume="Resume the selected job types",
    )


@admin.register(JobTypeRevision)
class JobTypeRevisionAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "job_type", "revision_num", "docker_image", "created")
    search_fields = ("job_type__name",)
    list_select_related = ("job_type",)


@admin.register(JobTypeTag)
class JobTypeTagAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "job_type", "tag")
    search_fields = ("tag", "job_type__name")
    list_select_related = ("job_type",)


@admin.register(Workspace)
class WorkspaceAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "name", "title", "broker_type", "is_active", "deprecated")
    list_filter = ("is_active",)
    search_fields = ("name", "title")
    actions = ("deprecate", "restore")

    @admin.action(description="Deprecate the selected workspaces")
    def deprecate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description="Restore the selected workspaces")
    def restore(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=True)

    @staticmethod
    def _set_active(request: HttpRequest, queryset: QuerySet, *, active: bool) -> None:
        run_action(
            request,
            queryset,
            lambda w: workspace_edit(workspace_id=w.pk, changes={"is_active": active}),
            done="Restored" if active else "Deprecated",
        )


@admin.register(Error)
class ErrorAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "name", "job_type_name", "category", "is_builtin", "should_be_retried")
    list_filter = ("category", "is_builtin", "should_be_retried")
    search_fields = ("name", "job_type_name")


@admin.register(StoredSecret)
class StoredSecretAdmin(ReadOnlyStateAdmin):
    list_display = ("key", "updated")
    search_fields = ("key",)
    # Encrypted, but still a secret: the console shows which keys exist, never the value.
    exclude = ("ciphertext",)


@admin.register(Job)
class JobAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "job_type", "status", "priority", "num_exes", "max_tries", "error")
    list_display += ("queued", "last_status_change")
    list_filter = ("status", "job_type__name", "last_status_change")
    search_fields = ("id", "job_type__name")
    list_select_related = ("job_type", "error")
    actions = ("cancel",)

    @admin.action(description="Cancel the selected jobs (a running one's process is stopped)")
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_action(
            request,
            queryset,
            lambda job: jobs_cancel(jobs=Job.objects.filter(pk=job.pk)) > 0,
            done="Canceled",
        )


@admin.register(JobExecution)
class JobExecutionAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "job", "exe_num", "status", "error", "execution_id", "created", "ended")
    list_filter = ("status", "created")
    search_fields = ("job__id", "execution_id")
    list_select_related = ("job", "error")


@admin.register(JobEvent)
class JobEventAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "job", "at", "type", "source", "target", "exe_num")
    list_filter = ("type", "at")
    search_fields = ("job__id",)


@admin.register(ScaleFile)
class ScaleFileAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "file_name", "workspace", "file_size", "media_type", "job", "job_output")
    list_filter = ("workspace", "created")
    search_fields = ("file_name", "file_path", "job__id")
    list_select_related = ("workspace",)


@admin.register(JobLoad)
class JobLoadAdmin(ReadOnlyStateAdmin):
    list_display = ("measured", "pending_count", "queued_count", "running_count")
    list_filter = ("measured",)
