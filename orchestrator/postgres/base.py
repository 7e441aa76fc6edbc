"""Django's PostgreSQL backend, except that a connection used a moment ago is not pinged.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request and
every Celery task: one more round trip each, measured at an eighth of an outbound worker's CPU
and a similar share of a small tracker request. A connection that ran a query within the last
second and saw no error since is taken as alive instead. If the server went away in that second,
the first query fails (the request errors, the task retries) and Django drops the connection at
the end of the request, as it does for any broken connection.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

RECENTLY_USED_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")

    def create_cursor(self, name: Any = None) -> Any:
        self.last_used = time.monotonic()
        return super().create_cursor(name)

    def close_if_health_check_failed(self) -> None:
        recently_used = time.monotonic() - self.last_used < RECENTLY_USED_SECONDS
        if self.connection is not None and recently_used and not self.errors_occurred:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
