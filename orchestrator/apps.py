"""Orchestrator's start: every process (web, worker, beat, manage.py, tests) runs `ready()` once
Django's apps are loaded."""

from __future__ import annotations

from django.apps import AppConfig


class OrchestratorConfig(AppConfig):
    name = "orchestrator"
    label = "orchestrator"

    def ready(self) -> None:
        # The task declarations first, so a canvas built by name in any process (a web request
        # too) is routed to each task's declared queue; then the step handlers the domain's
        # transitions schedule (domain/common/steps.py). The two packages never import each
        # other: this is where they meet.
        import orchestrator.tasks  # noqa: F401
        from orchestrator.lifecycles import install

        install()
