"""Django's session, authentication and messages middleware, skipped where no route reads them.

The routes under `HEADER_ONLY_SEGMENTS` authenticate by header alone (the tracker's worker
headers, the releases family's bearer tokens) and never touch `request.session`,
`request.user` or messages. Setting those up and tearing them down cost about a sixth of the
Django side of a tracker `/task/get` or `/task/release` (measured), and the answers are the
same without them: the session middleware adds a cookie or `Vary: Cookie` only for a session a
route read or wrote, the messages middleware writes only messages a route added.

They stay subclasses of Django's own classes, which is what the admin's system checks look
for; every other path (the admin, the tracker's manager routes, the docs pages) gets them as
before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessages
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessions
from django.http import HttpRequest, HttpResponseBase

# First path segments of routes that read no session: the tracker's worker routes (/task/*,
# /log/*) and every route of the releases family.
HEADER_ONLY_SEGMENTS = frozenset(
    {"task", "log", "releases", "tasks", "task-services", "release-notes", "events", "studies"}
)


def reads_no_session(request: HttpRequest) -> bool:
    # path_info starts with "/": the first segment is the second item.
    parts = request.path_info.split("/", 2)
    return len(parts) > 1 and parts[1] in HEADER_ONLY_SEGMENTS


class _SkippedForHeaderOnlyRoutes:
    get_response: Callable[[HttpRequest], HttpResponseBase]

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if reads_no_session(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_SkippedForHeaderOnlyRoutes, DjangoSessions):
    pass


class AuthenticationMiddleware(_SkippedForHeaderOnlyRoutes, DjangoAuthentication):
    pass


class MessageMiddleware(_SkippedForHeaderOnlyRoutes, DjangoMessages):
    pass
