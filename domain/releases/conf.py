"""Settings of the releases family, read from the environment.

Nothing here imports Django: celeryconfig.py reads the beat intervals before Django is set up.
Every name below is documented in docs/releases.md.
"""

from __future__ import annotations

from domain.common.env import env_float, env_int, env_str

# Beat intervals (seconds).
HEALTH_CHECK_INTERVAL = env_float("RELEASES_HEALTH_CHECK_INTERVAL", 30.0)
TASK_POLL_INTERVAL = env_float("RELEASES_TASK_POLL_INTERVAL", 10.0)
TIMEOUT_SWEEP_INTERVAL = env_float("RELEASES_TIMEOUT_SWEEP_INTERVAL", 60.0)
RECONCILE_INTERVAL = env_float("RELEASES_RECONCILE_INTERVAL", 30.0)
# A release whose last transition is older than this and whose next step is not visibly in
# flight is re-driven by the reconciler.
RECONCILE_AFTER = env_float("RELEASES_RECONCILE_AFTER", 120.0)
# Timeouts measured from the last transition of the task / release (spec §5 defaults).
TASK_TIMEOUT = env_float("RELEASES_TASK_TIMEOUT", 160000.0)
RELEASE_TIMEOUT = env_float("RELEASES_RELEASE_TIMEOUT", 360000.0)
# Outbound calls to task services: base of the exponential retry backoff (seconds).
RETRY_BACKOFF = env_float("RELEASES_RETRY_BACKOFF", 1.0)
RETRY_BACKOFF_MAX = env_float("RELEASES_RETRY_BACKOFF_MAX", 30.0)


# Study mirror.
def dataservice_url() -> str:
    """Read on every use so a running process follows its environment."""
    return env_str("DATASERVICE_URL")


STUDY_SYNC_HOUR = env_int("RELEASES_STUDY_SYNC_HOUR", 4)
# health_status is `down` once this many checks in a row failed (spec §3.2: ok while ≤ 3).
HEALTH_DOWN_AFTER = env_int("RELEASES_HEALTH_DOWN_AFTER", 4)


def poll_sweep_every(interval: float) -> float:
    """How often the poll sweep runs for a poll `interval`: four times per interval, at most
    twice a second. A task is then asked within a quarter interval of when it is due."""
    return max(interval / 4, 0.5)


def first_poll_after(interval: float) -> float:
    """How long after a service answered `start`/`publish` its task is first due for a poll.
    The answer was the task's status, so asking again at once learns nothing; a service that
    pushes its next state before this is never polled, and one that only answers polls is
    still asked within one interval of its answer (this, plus at most one sweep period)."""
    return interval - poll_sweep_every(interval)
