"""`GET /`: the service's name and version, as the original answers.

Every NinjaAPI appends its own root pattern, and the first family mounted at "" would take `/`,
so this is a plain Django view placed ahead of the families in orchestrator/urls.py.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from api.tracker.wire import cors_ok, ok, plain_not_found

VERSION = "1.1"


def root(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return ok({"name": "task_tracker", "version": VERSION})
    if request.method == "OPTIONS":
        return cors_ok()
    return plain_not_found()
