"""Every family is mounted at the root so it keeps its original paths."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, URLResolver, path
from django.urls.resolvers import ResolverMatch, RoutePattern
from ninja import NinjaAPI

from api.flotilla import api as flotilla_api
from api.releases import api as releases_api
from api.scale import api as scale_api
from api.tracker import api as tracker_api
from api.tracker.index import root as tracker_root
from orchestrator.health import healthz

FAMILY_APIS = (releases_api, tracker_api, scale_api, flotilla_api)


def regatta_index(request: HttpRequest) -> JsonResponse:
    """Where everything is. Families may take over `/` for compatibility later."""
    return JsonResponse(
        {
            "service": "Regatta",
            "health": request.build_absolute_uri("/healthz"),
            "docs": {
                api.urls_namespace: request.build_absolute_uri("/" + api.docs_url.lstrip("/"))
                for api in FAMILY_APIS
            },
        }
    )


class FamilyRoutes(URLResolver):
    """One family's routes, mounted at the root.

    Django tries the root's patterns in turn, so every request would walk every family's routes
    before reaching its own (a tracker `/task/get` went through the releases family's first).
    Each family is skipped at once when the path's first segment is none of its own, and within
    the family only the routes of that first segment are tried (the tracker has 89 patterns;
    `/task/release` came after 22 of them).
    """

    def __init__(self, api: NinjaAPI) -> None:
        patterns, app_name, namespace = api.urls
        super().__init__(
            RoutePattern("", is_endpoint=False), patterns, app_name=app_name, namespace=namespace
        )
        by_segment: dict[str, list] = {}
        for pattern in patterns:
            by_segment.setdefault(str(pattern.pattern).split("/", 1)[0], []).append(pattern)
        self.first_segments = frozenset(by_segment)
        # A route starting with a converter could match anything: never skip such a family.
        self.filtered = not any("<" in segment for segment in self.first_segments)
        # The same resolver (pattern, app name, namespace) over one segment's routes, so a match
        # is the ResolverMatch the whole family would give. Reversing still uses every route.
        self.segment_resolvers = {
            segment: URLResolver(
                RoutePattern("", is_endpoint=False),
                routes,
                app_name=app_name,
                namespace=namespace,
            )
            for segment, routes in by_segment.items()
        }

    def resolve(self, path: str) -> ResolverMatch:
        if not self.filtered:
            return super().resolve(path)
        resolver = self.segment_resolvers.get(path.split("/", 1)[0])
        if resolver is None:
            raise Resolver404({"tried": [], "path": path})
        return resolver.resolve(path)


class VersionAlias(URLResolver):
    """Paths under `alias/` answered by the routes under `target/` (Scale serves /v7/ as /v6/).
    The request keeps its own path, so the links in an answer keep the version asked for."""

    def __init__(self, routes: URLResolver, *, alias: str, target: str) -> None:
        super().__init__(RoutePattern(alias, is_endpoint=False), [])
        self.routes, self.alias, self.target = routes, alias, target

    def resolve(self, path: str) -> ResolverMatch:
        if not path.startswith(self.alias):
            raise Resolver404({"tried": [], "path": path})
        return self.routes.resolve(self.target + path[len(self.alias) :])


SCALE_ROUTES = FamilyRoutes(scale_api)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The operator console: staff login only (domain/*/admin.py).
    path("admin/", admin.site.urls),
    path("_/", regatta_index, name="regatta-index"),
    # The tracker's `GET /` (service name and version), ahead of every family's own root pattern.
    path("", tracker_root, name="tracker-root"),
    *(SCALE_ROUTES if api is scale_api else FamilyRoutes(api) for api in FAMILY_APIS),
    VersionAlias(SCALE_ROUTES, alias="v7/", target="v6/"),
]

# Unknown paths: the tracker's plain "Not found" outside the other families' prefixes.
handler404 = "api.tracker.notfound.handler404"
