from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TrackerConfig(AppConfig):
    name = "domain.tracker"
    label = "tracker"

    def ready(self) -> None:
        from domain.tracker.sql import schema_complete

        post_migrate.connect(schema_complete, sender=self)
