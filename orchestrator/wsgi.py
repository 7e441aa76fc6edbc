from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")
application = get_wsgi_application()
# Every family's routes and schemas load when a web worker starts, not inside its first
# request: 0.8 s of CPU here, which a first request after each start or restart waited for
# (and which a benchmark's measured phase counted when that request fell inside it).
get_resolver().url_patterns  # noqa: B018 (the property's import is the point)
