"""The Celery application. Configuration lives in the top-level celeryconfig.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")

app = Celery("regatta")
app.config_from_object("celeryconfig")
