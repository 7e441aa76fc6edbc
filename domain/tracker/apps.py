from __future__ import annotations

from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "domain.tracker"
    label = "tracker"
