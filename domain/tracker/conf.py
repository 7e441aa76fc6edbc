"""The tracker's settings, read from the environment (docs/tracker.md lists them)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from domain.common.env import env_bool, env_float, env_int, env_str

# /register is open by default, as in the original; close it when managers are made another way.
REGISTRATION_OPEN = env_bool("TRACKER_REGISTRATION_OPEN", True)
# Snapshots older than this many seconds are pruned by the monitoring sweep (default 30 days).
MONITORING_HISTORY_SECONDS = env_int("TRACKER_MONITORING_HISTORY", 30 * 86400)
# Largest accepted /task/bulk_submit body and item count.
BULK_MAX_BYTES = env_int("TRACKER_BULK_MAX_BYTES", 64 * 1024 * 1024)
BULK_MAX_TASKS = env_int("TRACKER_BULK_MAX_TASKS", 200_000)
# Largest JSON text of one bulk item: each item is parsed on its own, so this bounds the memory
# a single item costs (a larger task goes through /task/submit, up to BODY_MAX_BYTES).
BULK_MAX_TASK_BYTES = env_int("TRACKER_BULK_MAX_TASK_BYTES", 64 * 1024)
# Who may call /worker/create: "open" (anyone, as the original's drones expect, limited per
# client address) or "token" (an admin or dev API token; drones then get worker.json made for
# them).
WORKER_CREATE_OPEN, WORKER_CREATE_TOKEN = "open", "token"
WORKER_CREATE = env_str("TRACKER_WORKER_CREATE", WORKER_CREATE_OPEN)
if WORKER_CREATE not in (WORKER_CREATE_OPEN, WORKER_CREATE_TOKEN):
    raise ImproperlyConfigured("TRACKER_WORKER_CREATE must be 'open' or 'token'")
# Anonymous worker creations per second per client address, and how many may come at once.
WORKER_CREATE_RATE = env_float("TRACKER_WORKER_CREATE_RATE", 0.1)
WORKER_CREATE_BURST = env_int("TRACKER_WORKER_CREATE_BURST", 20)
# Largest accepted body elsewhere.
BODY_MAX_BYTES = env_int("TRACKER_BODY_MAX_BYTES", 1024 * 1024)
# Levels written to the database by /log/* (the original's default: error, warn, info).
DB_LOG_LEVELS = frozenset(int(x) for x in env_str("TRACKER_DB_LOG_LEVELS", "3,4,5").split(","))
