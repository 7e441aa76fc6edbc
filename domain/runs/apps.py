from __future__ import annotations

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "domain.runs"
    label = "runs"

    def ready(self) -> None:
        # A run follows its executions through this hook (domain/runs/hooks.py).
        from domain.runs import hooks  # noqa: F401
