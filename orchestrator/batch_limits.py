"""How long one outbound batch message may hold its broker message, and the check that this stays
below the broker's visibility timeout.

With `task_acks_late`, a message is acknowledged only when its task returns. Redis hands a message
that is still unacknowledged after `visibility_timeout` seconds to another worker, so a batch that
could run longer would be run twice: duplicate start/publish calls to the task services. A retried
batch goes back with a countdown, and the worker that takes it holds it unacknowledged until then
too, so the longest backoff counts as well.

Django-free: celeryconfig.py and settings.py run the check at start, before Django is set up;
orchestrator/tasks/releases.py takes its time limits from here.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from domain.releases import conf as releases_conf
from orchestrator import config

# Concurrent calls of one batch message, and the most calls one message carries.
BATCH_THREADS = 8
MAX_BATCH = 50
# Seconds past the calls' own deadlines for the batch's database work (and a slow name lookup,
# which no socket timeout interrupts).
MARGIN = 30
# Seconds between the soft limit (the batch's own failure path runs) and the hard kill.
HARD_AFTER_SOFT = 30


def soft_time_limit(*, outbound_timeout: float) -> int:
    """The slowest full batch: every round of BATCH_THREADS calls waits out its whole deadline
    (OUTBOUND_TIMEOUT is one total deadline per call, connect and every read included)."""
    rounds = -(-MAX_BATCH // BATCH_THREADS)
    return int(rounds * outbound_timeout) + MARGIN


def hard_time_limit(*, outbound_timeout: float) -> int:
    return soft_time_limit(outbound_timeout=outbound_timeout) + HARD_AFTER_SOFT


def longest_retry_wait(*, retries: int, backoff: float, backoff_max: float) -> float:
    """The longest countdown of a retried batch (the last retry's, before jitter shortens it)."""
    if retries <= 0:
        return 0.0
    return min(backoff * 2 ** (retries - 1), backoff_max)


def check_visibility_timeout() -> None:
    """Refuse to start when a batch could outlive the broker's visibility timeout."""
    timeout, retries = config.outbound_timeout(), config.outbound_retries()
    backoff, backoff_max = releases_conf.RETRY_BACKOFF, releases_conf.RETRY_BACKOFF_MAX
    limit = hard_time_limit(outbound_timeout=timeout)
    wait = longest_retry_wait(retries=retries, backoff=backoff, backoff_max=backoff_max)
    visibility = config.visibility_timeout()
    if limit + wait < visibility:
        return
    raise ImproperlyConfigured(
        f"an outbound batch may hold its broker message for {limit + wait:g} s (a time limit of "
        f"{limit} s from OUTBOUND_TIMEOUT={timeout:g}, after a retry countdown of up to {wait:g} s "
        f"from OUTBOUND_RETRIES={retries}, RELEASES_RETRY_BACKOFF={backoff:g} and "
        f"RELEASES_RETRY_BACKOFF_MAX={backoff_max:g}), which reaches "
        f"CELERY_VISIBILITY_TIMEOUT={visibility}: Redis would hand a running batch to a second "
        "worker. Lower OUTBOUND_TIMEOUT (or the backoff), or raise CELERY_VISIBILITY_TIMEOUT."
    )
