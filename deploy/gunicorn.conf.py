"""gunicorn settings shared by `make run`, the Procfile, docker-compose, Kubernetes and the tests.

Command-line flags override these (the tests bind a free loopback port, containers bind
0.0.0.0). Every knob is an environment variable listed in README.md.
"""

from __future__ import annotations

import os

# Read by orchestrator/settings.py in each worker (config.is_web_process): a web worker keeps
# its embedded SQLite connection between requests, which a forking Celery worker must not.
os.environ["REGATTA_WEB_PROCESS"] = "1"
wsgi_app = "orchestrator.wsgi:application"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
graceful_timeout = 10
# gunicorn's access log renders some twenty fields of every request: measured at a quarter of
# the CPU a small tracker request costs, so it is off unless asked for. Errors are always logged.
accesslog = (
    "-" if os.environ.get("WEB_ACCESS_LOG", "").lower() in ("1", "true", "yes", "on") else None
)
