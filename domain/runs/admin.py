"""Operator console for Flotilla: definitions, runs (filter by status, cluster, age; stop them
through the same service the API calls), cluster metadata and tags."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from domain.common.admin_console import ReadOnlyStateAdmin, run_action
from domain.runs import models as m
from domain.runs.stop import run_stop


@admin.register(m.Definition)
class DefinitionAdmin(ReadOnlyStateAdmin):
    list_display = ("definition_id", "alias", "group_name", "image", "created_at")
    list_filter = ("group_name",)
    search_fields = ("alias", "definition_id", "group_name", "image")
    # The searchable copy of `env`, not something to read.
    exclude = ("env_index",)


@admin.register(m.Run)
class RunAdmin(ReadOnlyStateAdmin):
    list_display = ("run_id", "alias", "status", "exit_code", "cluster", "user", "queued_at")
    list_filter = ("status", "cluster", "engine", "queued_at")
    search_fields = ("run_id", "alias", "user", "token_name")
    exclude = ("env_index",)
    actions = ("stop",)

    @admin.action(description="Stop the selected runs")
    def stop(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = f"Task terminated by - {request.user.get_username()} (console)"
        run_action(
            request, queryset, lambda r: run_stop(run_id=r.pk, reason=reason), done="Stopped"
        )


@admin.register(m.ClusterMetadata)
class ClusterMetadataAdmin(ReadOnlyStateAdmin):
    list_display = ("name", "status", "region", "updated_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(m.Tag)
class TagAdmin(ReadOnlyStateAdmin):
    list_display = ("text",)
    search_fields = ("text",)
