"""Celery settings and the whole beat schedule, in one place.

Intervals are environment settings (seconds); README.md documents each one.
"""

from __future__ import annotations

from celery.schedules import crontab
from kombu import Exchange, Queue

from domain.common.env import env_float, env_int, env_str
from orchestrator import batch_limits, config

broker_url = config.broker_url()
result_backend = config.result_backend_url()
broker_connection_retry_on_startup = True
# A redelivered message must be harmless (every step is a compare-and-set), so acknowledge late
# and let a lost worker's message go back to the queue.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
broker_transport_options = {"visibility_timeout": config.visibility_timeout()}
# An outbound batch that outlived the visibility timeout would run twice: refuse such a start.
batch_limits.check_visibility_timeout()
result_backend_transport_options = {"retry_policy": {"timeout": 5.0}}
# An enqueue made while answering a request must give up promptly when the broker is down or
# unreachable (the state is committed; the reconciler re-drives a lost step): a short connect
# timeout instead of the OS's minutes, and one quick retry for a blip.
BROKER_CONNECT_TIMEOUT = env_float("CELERY_BROKER_CONNECT_TIMEOUT", 1.0)
broker_connection_timeout = BROKER_CONNECT_TIMEOUT
broker_transport_options["socket_connect_timeout"] = BROKER_CONNECT_TIMEOUT
task_publish_retry_policy = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
result_expires = env_int("CELERY_RESULT_EXPIRES", 86400)
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True
worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False

# Four queues: `default` for bookkeeping, `outbound` for HTTP calls to other services (slow,
# bounded by their timeouts), `executions` for running jobs and task definitions, `jobs` for the
# Scale scheduler, which places jobs on the cluster its worker's SCALE_JOBS_CLUSTER names: only
# workers configured for that cluster should take it.
task_default_queue = "default"
# Every queue is reached through the default exchange (routing key = queue name). On Redis a named
# exchange routes through a binding key that a producer declares once per connection: after a
# FLUSHDB (or a Redis restart without persistence) every later message of a long-lived producer
# (web, beat, a supervisor) would be routed nowhere and lost. The default exchange needs no
# binding, so a flushed broker loses only what it held, and the reconciler re-drives that.
DIRECT = Exchange("")
task_queues = tuple(
    Queue(name, DIRECT, routing_key=name) for name in ("default", "outbound", "executions", "jobs")
)
ALL_QUEUES = ",".join(q.name for q in task_queues)

# CELERY_EXTRA_IMPORTS: comma-separated task modules to load beside Regatta's own (plugins, tests).
imports = ("orchestrator.tasks", *filter(None, env_str("CELERY_EXTRA_IMPORTS").split(",")))

beat_schedule_filename = str(config.data_dir() / "celerybeat-schedule")

beat_schedule: dict[str, dict] = {
    "common.prune_selfchecks": {
        "task": "common.prune_selfchecks",
        "schedule": crontab(minute=17, hour=3),
    },
}

# --- tracker family (docs/tracker.md) --------------------------------------------------------
TRACKER_RECLAIM_INTERVAL = env_float("TRACKER_RECLAIM_INTERVAL", 60.0)
TRACKER_MONITORING_INTERVAL = env_float("TRACKER_MONITORING_INTERVAL", 120.0)
beat_schedule.update(
    {
        "tracker.reclaim_timed_out_tasks": {
            "task": "tracker.reclaim_timed_out_tasks",
            "schedule": TRACKER_RECLAIM_INTERVAL,
        },
        "tracker.monitoring_snapshot": {
            "task": "tracker.monitoring_snapshot",
            "schedule": TRACKER_MONITORING_INTERVAL,
        },
    }
)

# --- releases family (docs/releases.md lists every setting) -----------------------------------
# Sweeps take their knobs as kwargs, so the beat process's environment decides them.
from domain.releases import conf as _releases  # noqa: E402

beat_schedule.update(
    {
        "releases.health_checks": {
            "task": "releases.health_checks",
            "schedule": _releases.HEALTH_CHECK_INTERVAL,
        },
        "releases.poll_tasks": {
            "task": "releases.poll_tasks",
            "schedule": _releases.poll_sweep_every(_releases.TASK_POLL_INTERVAL),
            "kwargs": {"interval": _releases.TASK_POLL_INTERVAL},
        },
        "releases.sweep_timeouts": {
            "task": "releases.sweep_timeouts",
            "schedule": _releases.TIMEOUT_SWEEP_INTERVAL,
            "kwargs": {
                "task_timeout": _releases.TASK_TIMEOUT,
                "release_timeout": _releases.RELEASE_TIMEOUT,
            },
        },
        "releases.reconcile": {
            "task": "releases.reconcile",
            "schedule": _releases.RECONCILE_INTERVAL,
            "kwargs": {"stale_after": _releases.RECONCILE_AFTER},
        },
        "releases.sync_studies": {
            "task": "releases.sync_studies",
            "schedule": crontab(minute=0, hour=_releases.STUDY_SYNC_HOUR),
        },
    }
)

# --- executions (docs/executions.md) -----------------------------------------------------------
from domain.executions import conf as _executions  # noqa: E402

# The sweeps' knobs travel as kwargs, so the beat's settings decide them whichever worker runs one.
_EXECUTION_SWEEPS = {
    "sweep_lost": {
        "timeout": _executions.HEARTBEAT_TIMEOUT,
        "host_timeout": _executions.HOST_TIMEOUT,
    },
    "sweep_deadlines": {"grace": _executions.STOP_GRACE + _executions.HEARTBEAT_TIMEOUT},
    "reconcile": {"launch_timeout": _executions.LAUNCH_TIMEOUT},
    "poll_remote": {},
}
beat_schedule.update(
    {
        f"executions.{name}": {
            "task": f"executions.{name}",
            "schedule": _executions.SWEEP_INTERVAL,
            "kwargs": kwargs,
        }
        for name, kwargs in _EXECUTION_SWEEPS.items()
    }
)

# --- runs (Flotilla, docs/flotilla.md) --------------------------------------------------------
from domain.runs import conf as _runs  # noqa: E402

beat_schedule["runs.retry_sweep"] = {
    "task": "runs.retry_sweep",
    "schedule": _runs.RETRY_SWEEP_INTERVAL,
}

# --- scale jobs (docs/scale.md) ----------------------------------------------------------------
SCALE_SCHEDULE_INTERVAL = env_float("SCALE_SCHEDULE_INTERVAL", 1.0)
beat_schedule["jobs.schedule"] = {
    "task": "jobs.schedule",
    "schedule": SCALE_SCHEDULE_INTERVAL,
    # A schedule message older than the next one is worth nothing: drop it unrun.
    "options": {"expires": max(SCALE_SCHEDULE_INTERVAL * 5, 5.0)},
}
beat_schedule["jobs.measure_load"] = {
    "task": "jobs.measure_load",
    "schedule": env_float("SCALE_LOAD_INTERVAL", 60.0),
}

# REGATTA_BEAT_ONLY narrows what this beat runs (entry names or "family." prefixes): a test's beat
# runs only the sweeps it observes, so it cannot act on other tests' rows in a shared database.
beat_schedule = config.beat_entries_only(beat_schedule, env_str("REGATTA_BEAT_ONLY"))
