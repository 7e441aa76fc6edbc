"""Executions settings, read from the environment (docs/executions.md lists each one)."""

from __future__ import annotations

import json
import os
import socket
from functools import cache

from django.core.exceptions import ImproperlyConfigured

from domain.common.env import env_float, env_int, env_str

# Flotilla's default: a run may take 48 hours unless it asks for another deadline.
DEFAULT_DEADLINE_SECONDS = env_int("EXECUTIONS_DEFAULT_DEADLINE", 172800)
# No heartbeat from a running execution's supervisor for this long: its host is gone.
HEARTBEAT_INTERVAL = env_float("EXECUTIONS_HEARTBEAT_INTERVAL", 5.0)
HEARTBEAT_TIMEOUT = env_float("EXECUTIONS_HEARTBEAT_TIMEOUT", 60.0)
# A PENDING execution whose launch has not started after this long is re-sent to its host.
LAUNCH_TIMEOUT = env_float("EXECUTIONS_LAUNCH_TIMEOUT", 30.0)
# A remote engine that keeps answering "not now" (its API down, a 403 on RBAC not yet granted)
# is tried again for this long after the slot was claimed; then the execution ends
# launch_failed with the engine's last answer, instead of waiting without end.
LAUNCH_GIVE_UP = env_float("EXECUTIONS_LAUNCH_GIVE_UP", 900.0)
# Seconds between SIGTERM and SIGKILL when a command is stopped.
STOP_GRACE = env_float("EXECUTIONS_STOP_GRACE", 10.0)
SWEEP_INTERVAL = env_float("EXECUTIONS_SWEEP_INTERVAL", 5.0)
# Output is written to the database at least this often while a command runs.
LOG_FLUSH_INTERVAL = env_float("EXECUTIONS_LOG_FLUSH_INTERVAL", 0.25)
LOG_CHUNK_LINES = env_int("EXECUTIONS_LOG_CHUNK_LINES", 1000)
LOG_CHUNK_BYTES = env_int("EXECUTIONS_LOG_CHUNK_BYTES", 256 * 1024)
# A longer line is cut there (the rest is dropped with a marker): a line is never whole in memory.
LOG_MAX_LINE_BYTES = env_int("EXECUTIONS_LOG_MAX_LINE_BYTES", 64 * 1024)

DEFAULT_CLUSTERS = {"default": {"engine": "local"}}
ENGINES = ("local", "docker", "kubernetes")
HOST_ENGINES = ("local", "docker")


@cache
def clusters() -> dict[str, dict]:
    """`EXECUTIONS_CLUSTERS`: a JSON object mapping each cluster name to its engine and the
    engine's options, e.g. {"default": {"engine": "local"}, "containers": {"engine": "docker"}}."""
    raw = env_str("EXECUTIONS_CLUSTERS")
    if not raw:
        return DEFAULT_CLUSTERS
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"EXECUTIONS_CLUSTERS is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise ImproperlyConfigured("EXECUTIONS_CLUSTERS must be a non-empty JSON object")
    for name, options in parsed.items():
        if not isinstance(options, dict) or options.get("engine") not in ENGINES:
            raise ImproperlyConfigured(
                f"EXECUTIONS_CLUSTERS[{name!r}] needs an engine, one of {', '.join(ENGINES)}"
            )
    return parsed


def cluster_names() -> list[str]:
    return sorted(clusters())


def cluster_engine(cluster: str) -> str:
    return clusters()[cluster]["engine"]


def host_name() -> str:
    """This machine's name as a host of executions (`EXECUTIONS_HOST`, else the hostname)."""
    return env_str("EXECUTIONS_HOST") or socket.gethostname()


def host_slots() -> int:
    return env_int("EXECUTIONS_SLOTS", os.cpu_count() or 1)


def host_queue(host: str) -> str:
    """The Celery queue of one host's workers: launches and stops of its executions."""
    return f"executions.host.{host}"


def launch_queue(host: str) -> str:
    """Where launches and stops of an execution holding a slot on `host` go: that host's own
    queue, or the shared queue for a remote engine's (any executions worker talks to it)."""
    return REMOTE_QUEUE if host == REMOTE_HOST else host_queue(host)


# A host that has not said it is alive for this long gets no new executions.
HOST_TIMEOUT = env_float("EXECUTIONS_HOST_TIMEOUT", 60.0)
HOST_HEARTBEAT_INTERVAL = env_float("EXECUTIONS_HOST_HEARTBEAT_INTERVAL", 10.0)
# Launches on remote engines (kubernetes) need no particular host: any executions worker.
REMOTE_QUEUE = "executions"
# The `host` of an execution handed to a remote engine's own scheduler.
REMOTE_HOST = "remote"
