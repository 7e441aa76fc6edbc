"""Sessions, users and messages: set up for the routes that read them, skipped for the rest."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils.module_loading import import_string

pytestmark = pytest.mark.django_db


def _what_the_view_sees(path: str, method: str = "get") -> set[str]:
    """Run the project's middleware around a view that notes which request attributes exist."""
    seen: set[str] = set()

    def view(request: HttpRequest) -> HttpResponse:
        seen.update(a for a in ("session", "user", "_messages") if hasattr(request, a))
        return HttpResponse(b"{}")

    handler = view
    for path_ in reversed(settings.MIDDLEWARE):
        handler = import_string(path_)(handler)
    request = getattr(RequestFactory(), method)(path, HTTP_COOKIE="sessionid=abc")
    handler(request)
    return seen


@pytest.mark.parametrize(
    "path",
    ["/task/get/1", "/task/release", "/log/info", "/releases/RE_1", "/tasks/TA_1", "/events"],
)
def test_it_skips_them_for_routes_that_authenticate_by_header(path):
    # Bob's drone and the task services send headers, never the manager's cookie.
    assert _what_the_view_sees(path, "post") == set()


@pytest.mark.parametrize(
    "path",
    [
        "/project/create",
        "/login",
        "/worker/set_paused",
        "/admin/",
        "/_/tracker/docs",
        "//task/get/1",
    ],
)
def test_it_sets_them_up_for_every_other_route(path):
    # Alice the manager works through her session cookie on these.
    assert _what_the_view_sees(path, "post") == {"session", "user", "_messages"}


def test_the_admin_still_finds_the_middleware_it_needs():
    # admin.E408/E409/E410 look for (subclasses of) Django's three classes.
    call_command("check", fail_level="ERROR")
