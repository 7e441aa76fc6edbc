"""The Celery application. Configuration lives in the top-level celeryconfig.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")

# Django's fix-up, keeping database connections between tasks: orchestrator/celery_django.py.
app = Celery("regatta", fixups=["orchestrator.celery_django:fixup"])
app.config_from_object("celeryconfig")
