from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TrackerConfig(AppConfig):
    name = "domain.tracker"
    label = "tracker"

    def ready(self) -> None:
        from domain.tracker.queue_sqlite import ensure_verification_cascade

        post_migrate.connect(ensure_verification_cascade, sender=self)
