"""Settings of the Flotilla family, read from the environment on every use (so a test, or a
running process, follows its environment). docs/flotilla.md documents each one.

Nothing here imports Django: celeryconfig.py reads the beat interval before Django is set up.
"""

from __future__ import annotations

from domain.common.env import env_bool, env_float, env_int, env_str

# Beat: how often NEEDS_RETRY runs are queued again, and how many per tick.
RETRY_SWEEP_INTERVAL = env_float("RUNS_RETRY_SWEEP_INTERVAL", 10.0)
RETRY_BATCH = 25
# An idempotence key returns the earlier run for this long (spec B.4).
IDEMPOTENCE_WINDOW_DAYS = 7


def max_retries() -> int:
    """How many times a run whose execution was lost is tried again (the original: no cap)."""
    return env_int("RUNS_MAX_RETRIES", 3)


def default_cluster() -> str:
    return env_str("RUNS_DEFAULT_CLUSTER", "default")


def gpu_cluster() -> str:
    """Where a run asking for GPUs goes when nothing else names a cluster."""
    return env_str("RUNS_GPU_CLUSTER", default_cluster())


def server_mode() -> str:
    """FLOTILLA_SERVER_MODE, given to every run."""
    return env_str("RUNS_SERVER_MODE", "prod")


def owner_id_var() -> str:
    """The reserved variable that carries the run's owner."""
    return env_str("RUNS_OWNER_ID_VAR", "FLOTILLA_RUN_OWNER_ID")


def private_reads() -> bool:
    """Reads need a valid token too (the original's reads were open)."""
    return env_bool("RUNS_PRIVATE_READS", False)


def trusted_user_header() -> str:
    """A header set by an authenticating proxy: its value counts as a `dev` caller. Off (empty)
    unless every request reaches us through that proxy, which must overwrite the header."""
    return env_str("RUNS_TRUSTED_USER_HEADER")
