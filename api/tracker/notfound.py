"""Django's handler404, shared by the families mounted at the root.

The tracker owned the whole root in the original, so an unknown path answers its plain-text
`404 Not found` (and OPTIONS its CORS preflight). Paths under another family's prefix keep
Django's default answer. fasthttp collapsed duplicate slashes, and clients whose base URL ends in
`/` rely on it, so `//task/get/1` is dispatched again as `/task/get/1`.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.defaults import page_not_found

from api.tracker.wire import cors_ok, plain_not_found

# Paths that belong to the other families or to Regatta itself.
FOREIGN_PREFIXES = (
    "/releases",
    "/tasks",
    "/task-services",
    "/release-notes",
    "/events",
    "/studies",
    "/v6/",
    "/api/",
    "/_/",
    "/static/",
    "/healthz",
)
_SLASHES = re.compile(r"/{2,}")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    path = request.path_info
    collapsed = _SLASHES.sub("/", path)
    if collapsed != path:
        try:
            match = resolve(collapsed)
        except Resolver404:
            pass
        else:
            request.path_info = collapsed
            return match.func(request, *match.args, **match.kwargs)
    if collapsed.startswith(FOREIGN_PREFIXES):
        return page_not_found(request, exception)
    if request.method == "OPTIONS":
        return cors_ok()
    return plain_not_found()
