"""Cross-origin protection of the tracker's manager session (the original had none).

The session cookie goes with every request a browser makes to this host, whichever page makes
it, so a write authenticated by that cookie must come from a page of this service (or of an
origin in CSRF_TRUSTED_ORIGINS). Browsers say where a request comes from in headers a page
cannot forge: `Sec-Fetch-Site` (every current browser, on HTTPS and localhost) and `Origin`
(every current browser on a cross-origin request, and on any POST).

- A session write (`WRITES`, `ALWAYS`) is refused when the browser says it is cross-origin; a
  request with neither header comes from no browser (curl, a script) and passes, as with the
  original. The original's UI (same origin, XHR) sends `Sec-Fetch-Site: same-origin`.
- A state change the wire format makes a GET (`SAME_ORIGIN`: /manager/promote, /demote) must
  prove it comes from this origin: `Sec-Fetch-Site: same-origin`, or an `Origin` or `Referer`
  of this host or a trusted origin. A link opened from another site, a mail client or the
  address bar proves nothing and is refused.

Worker-header routes and bearer-token routes never read the session and are not checked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import is_same_domain

from domain.tracker.errors import TrackerError

WRITES, ALWAYS, SAME_ORIGIN = "writes", "always", "same-origin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_ORIGIN = "Cross-origin request refused"


def _origin_of(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def _trusted(request: HttpRequest, url: str) -> bool:
    """Whether `url` (an Origin or a Referer) is of this host or a trusted origin."""
    origin = _origin_of(url)
    if origin is None:
        return False
    scheme, host = origin
    # The host alone, as Go's CrossOriginProtection does: behind a TLS-terminating proxy the
    # request's own scheme is often http while the page's is https.
    if host == request.get_host().lower():
        return True
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        trusted = _origin_of(entry)
        if trusted is None or trusted[0] != scheme:
            continue
        pattern = trusted[1]
        # Django's CSRF_TRUSTED_ORIGINS syntax: `https://*.example.com` admits subdomains.
        if pattern == host or (pattern.startswith("*.") and is_same_domain(host, pattern[1:])):
            return True
    return False


def refuse_cross_origin(request: HttpRequest) -> None:
    """A session write: refused only when the browser says it comes from another origin."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is not None and _trusted(request, origin):
        return
    site = request.META.get("HTTP_SEC_FETCH_SITE")
    if site is not None:
        # "none": the user's own action (a bookmark, the address bar), never a page's.
        if site in ("same-origin", "none"):
            return
        raise TrackerError(403, CROSS_ORIGIN)
    if origin is not None:
        raise TrackerError(403, CROSS_ORIGIN)


def require_same_origin(request: HttpRequest) -> None:
    """A GET that changes state: it must prove it comes from a page of a trusted origin."""
    if request.META.get("HTTP_SEC_FETCH_SITE") == "same-origin":
        return
    for header in ("HTTP_ORIGIN", "HTTP_REFERER"):
        value = request.META.get(header)
        if value is not None:
            if _trusted(request, value):
                return
            raise TrackerError(403, CROSS_ORIGIN)
    raise TrackerError(403, CROSS_ORIGIN)


def check(request: HttpRequest, policy: str | None) -> None:
    """Apply a route's policy (None: the route does not use the manager session)."""
    if policy == SAME_ORIGIN:
        require_same_origin(request)
    elif policy == ALWAYS or (policy == WRITES and request.method not in SAFE_METHODS):
        refuse_cross_origin(request)
