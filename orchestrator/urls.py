"""Every family is mounted at the root so it keeps its original paths."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

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


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("_/", regatta_index, name="regatta-index"),
    # The tracker's `GET /` (service name and version), ahead of every family's own root pattern.
    path("", tracker_root, name="tracker-root"),
    *(path("", api.urls) for api in FAMILY_APIS),
]

# Unknown paths: the tracker's plain "Not found" outside the other families' prefixes.
handler404 = "api.tracker.notfound.handler404"
