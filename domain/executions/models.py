"""Executions: one attempt to run a command on an engine, shared by Flotilla runs and Scale jobs.

An execution never knows what owns it beyond `owner_type`/`owner_id`; its owner is told about
every state change through the one hook registered for its type (domain/executions/owners.py).
Waiting is a state in these rows, never a sleeping worker: `heartbeat_at` and `deadline_at`
drive the beat sweeps (domain/executions/sweeps.py).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class ExecutionState(models.TextChoices):
    # Waiting for a slot on a host of its cluster, in queue order.
    QUEUED = "QUEUED"
    # A host's slot is claimed and the launch message is on that host's queue.
    PENDING = "PENDING"
    # The engine has the command (a process, a container, a Kubernetes Job).
    RUNNING = "RUNNING"
    # Final. `outcome` says how it ended, `exit_code` what the command returned.
    ENDED = "ENDED"


ACTIVE_STATES = (ExecutionState.PENDING, ExecutionState.RUNNING)
OPEN_STATES = (ExecutionState.QUEUED, ExecutionState.PENDING, ExecutionState.RUNNING)
STATE_ORDER = {
    ExecutionState.QUEUED: 0,
    ExecutionState.PENDING: 1,
    ExecutionState.RUNNING: 2,
    ExecutionState.ENDED: 3,
}


class Outcome(models.TextChoices):
    EXITED = "exited"  # the command ended by itself; exit_code says how
    OOM = "oom"  # killed for exceeding its memory limit
    STOPPED = "stopped"  # stopped on request (the owner's stop)
    TIMED_OUT = "timed_out"  # ran past its deadline
    LOST = "lost"  # its host or supervisor stopped reporting
    LAUNCH_FAILED = "launch_failed"  # the engine refused it (bad image, bad spec)


def new_execution_id() -> str:
    return str(uuid.uuid4())


class Execution(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_execution_id)
    # Who is told when this execution changes state ("runs.run", "jobs.job"): owners.py.
    owner_type = models.CharField(max_length=32)
    owner_id = models.CharField(max_length=128)
    attempt = models.PositiveIntegerField(default=1)

    cluster = models.CharField(max_length=255)
    engine = models.CharField(max_length=32)
    # Set when a slot is claimed: the host whose queue launches and stops it.
    host = models.CharField(max_length=255, blank=True, default="")
    # What the engine calls it: {"pid", "pgid", "supervisor_pid"} or {"container_id"} or
    # {"job_name", "namespace", "pod_name"}.
    engine_ref = models.JSONField(default=dict, blank=True)

    command = models.TextField()
    # The effective environment, [[name, value], …] in order (later names won when merged).
    env = models.JSONField(default=list, blank=True)
    image = models.CharField(max_length=1024, blank=True, default="")
    # What it asked for: {"cpus": float, "mem_mb": int, "disk_mb": int, "gpus": int}.
    resources = models.JSONField(default=dict, blank=True)
    # What it used, read at the end when the engine can tell: {"max_mem_mb", "cpu_seconds"}.
    usage = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    # Directories the command sees besides its scratch directory, chosen by the owner:
    # [{name, path, mode, type, host_path | driver, driver_opts}, …] (domain/executions/mounts.py).
    mounts = models.JSONField(default=list, blank=True)
    # The owner stages files into the scratch directory or collects files from it (a Scale job
    # with file inputs or outputs): an engine with no scratch directory on a host refuses it.
    stages_files = models.BooleanField(default=False)
    # Lower first; equal priorities run in queue order.
    priority = models.IntegerField(default=100)
    deadline_seconds = models.PositiveIntegerField()

    state = models.CharField(
        max_length=16, choices=ExecutionState.choices, default=ExecutionState.QUEUED
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
    exit_code = models.IntegerField(null=True, blank=True)
    exit_reason = models.TextField(blank=True, default="")

    queued_at = models.DateTimeField(default=timezone.now)
    pending_at = models.DateTimeField(null=True, blank=True)
    # Set by the one launch that may start the command: a redelivered launch finds it set.
    launch_started_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # A stop asked for while it was open; the engine side acts on it (supervisor, sweep).
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.TextField(blank=True, default="")

    log_lines = models.PositiveBigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["owner_type", "owner_id"]),
            models.Index(
                fields=["cluster", "priority", "queued_at"],
                name="exec_queue",
                condition=models.Q(state="QUEUED"),
            ),
            models.Index(fields=["host", "state"]),
            models.Index(fields=["state", "heartbeat_at"]),
        ]

    def __str__(self) -> str:
        return f"execution {self.id} ({self.state})"


class ExecutionEvent(models.Model):
    """One row per state change and per notable engine event (pod events, OOM, stop asked)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32)  # "transition", "engine", "stop"
    source = models.CharField(max_length=16, blank=True, default="")
    target = models.CharField(max_length=16, blank=True, default="")
    reason = models.CharField(max_length=255, blank=True, default="")
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]


class LogChunk(models.Model):
    """Consecutive lines of one execution's combined output. Lines are numbered from 0; a chunk
    holds lines [first_line, first_line + line_count), each ending in "\\n".
    `stderr` holds which of them came from stderr: [start, stop) ranges of indexes relative to
    first_line, ascending (empty: all from stdout, as the docker engine's all are)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="log_chunks")
    first_line = models.PositiveBigIntegerField()
    line_count = models.PositiveIntegerField()
    text = models.TextField()
    stderr = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["execution", "first_line"], name="log_chunk_unique"),
        ]


class Host(models.Model):
    """A machine that runs executions for the clusters it serves, and what it offers."""

    name = models.CharField(primary_key=True, max_length=255)
    # The Celery queue its workers consume for launches and stops on this host.
    queue = models.CharField(max_length=255)
    clusters = models.JSONField(default=list)
    slots = models.PositiveIntegerField()
    cpus = models.FloatField(default=0)
    mem_mb = models.PositiveBigIntegerField(default=0)
    disk_mb = models.PositiveBigIntegerField(default=0)
    gpus = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"host {self.name}"
