from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "domain.jobs"
    label = "jobs"

    def ready(self) -> None:
        # The owner hook and the scratch-directory steps of "jobs.job" executions.
        from domain.jobs import hooks, workdir  # noqa: F401
