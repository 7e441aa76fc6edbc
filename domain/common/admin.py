"""Operator console: API tokens (revoke), the transition log and self-checks (read only)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from domain.common.admin_console import ReadOnlyStateAdmin, run_action
from domain.common.models import ApiToken, SelfCheck, TransitionLog
from domain.common.tokens import token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyStateAdmin):
    list_display = ("id", "token_prefix", "name", "role", "subject", "created_at", "last_used_at")
    list_display += ("expires_at", "revoked_at")
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("name", "subject", "token_prefix")
    # The hash is a secret's fingerprint; the console never shows it.
    exclude = ("token_hash",)
    actions = ("revoke",)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_action(request, queryset, lambda t: token_revoke(token_id=t.pk), done="Revoked")


@admin.register(TransitionLog)
class TransitionLogAdmin(ReadOnlyStateAdmin):
    list_display = ("at", "aggregate", "aggregate_id", "field", "source", "target")
    list_filter = ("aggregate", "target", "at")
    search_fields = ("aggregate_id",)
    date_hierarchy = "at"


@admin.register(SelfCheck)
class SelfCheckAdmin(ReadOnlyStateAdmin):
    list_display = ("nonce", "total", "created_at")
    date_hierarchy = "created_at"
