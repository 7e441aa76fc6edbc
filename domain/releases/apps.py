from __future__ import annotations

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "domain.releases"
    label = "releases"
