"""The tracker's settings, read from the environment (docs/tracker.md lists them)."""

from __future__ import annotations

from domain.common.env import env_bool, env_int, env_str

# /register is open by default, as in the original; close it when managers are made another way.
REGISTRATION_OPEN = env_bool("TRACKER_REGISTRATION_OPEN", True)
# Snapshots older than this many seconds are pruned by the monitoring sweep (default 30 days).
MONITORING_HISTORY_SECONDS = env_int("TRACKER_MONITORING_HISTORY", 30 * 86400)
# Largest accepted /task/bulk_submit body and item count.
BULK_MAX_BYTES = env_int("TRACKER_BULK_MAX_BYTES", 64 * 1024 * 1024)
BULK_MAX_TASKS = env_int("TRACKER_BULK_MAX_TASKS", 200_000)
# Largest accepted body elsewhere.
BODY_MAX_BYTES = env_int("TRACKER_BODY_MAX_BYTES", 1024 * 1024)
# Levels written to the database by /log/* (the original's default: error, warn, info).
DB_LOG_LEVELS = frozenset(int(x) for x in env_str("TRACKER_DB_LOG_LEVELS", "3,4,5").split(","))
