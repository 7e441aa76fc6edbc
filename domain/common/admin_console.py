"""What every operator-console page shares: state is read-only, changes go through domain actions.

Django's admin would otherwise let a staff member edit a `state` field by hand, skipping the
transition function, its compare-and-set and its event row. Pages built on `ReadOnlyStateAdmin`
show state but never write it; admin actions call the same domain services the API calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from domain.common.errors import DomainError
from domain.common.models import Role
from domain.common.oidc import Principal


class ReadOnlyStateAdmin(admin.ModelAdmin):
    """A list an operator can filter and act on; rows are created and changed by the services."""

    # A count(*) over a queue of millions on every page load is the console's own outage.
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # The change page stays viewable (fields are read-only); nothing is saved from it.
        return False


def run_action(
    request: HttpRequest,
    rows: Iterable[Model],
    apply: Callable[[Model], Any],
    *,
    done: str,
) -> None:
    """Apply a domain service to each selected row; report how many it applied to and why any
    were refused, as the API would have answered."""
    applied, refused = 0, []
    for row in rows:
        try:
            result = apply(row)
        except DomainError as exc:
            refused.append(f"{row.pk}: {exc.message}")
            continue
        if result is not False:
            applied += 1
    messages.success(request, f"{done}: {applied}.")
    if refused:
        messages.warning(request, "Refused: " + "; ".join(refused[:20]))


def pause_actions(
    set_paused: Callable[[Model, bool], Any], *, pause: str, resume: str
) -> tuple[Callable, Callable]:
    """The console's `pause` and `resume` actions: each row through the family's own service
    `set_paused(row, paused)`."""

    def act(request: HttpRequest, queryset: QuerySet, *, paused: bool) -> None:
        done = "Paused" if paused else "Resumed"
        run_action(request, queryset, lambda row: set_paused(row, paused), done=done)

    @admin.action(description=pause)
    def pause_rows(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
        act(request, queryset, paused=True)

    @admin.action(description=resume)
    def resume_rows(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
        act(request, queryset, paused=False)

    # The action's name is its function's name: the console's URLs and tests say pause/resume.
    pause_rows.__name__, resume_rows.__name__ = "pause", "resume"
    return pause_rows, resume_rows


def console_caller(request: HttpRequest) -> Principal:
    """The staff member behind a console action, as the domain's services see callers: an admin
    (the console is staff only), named after the logged-in user."""
    username = request.user.get_username()
    return Principal(role=Role.ADMIN, subject=f"console:{username}", name=username)
