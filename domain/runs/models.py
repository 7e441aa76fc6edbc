"""Flotilla's aggregates: task definitions, their runs, cluster metadata.

A run owns executions (domain/executions): each attempt to run it is one Execution, and
`execution_id` names the current one. A run's `status` changes only in domain/runs/status.py.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    # Its execution was lost (host gone): the retry sweep queues a new attempt.
    NEEDS_RETRY = "NEEDS_RETRY"


# A definition may not be deleted while any of its runs is in one of these (issue #57).
ACTIVE_STATUSES = (
    RunStatus.QUEUED,
    RunStatus.PENDING,
    RunStatus.RUNNING,
    RunStatus.NEEDS_RETRY,
)


class Tag(models.Model):
    text = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.text


class Definition(models.Model):
    """A task: an image, a command, resources and environment that runs are made from."""

    definition_id = models.CharField(primary_key=True, max_length=300)
    group_name = models.CharField(max_length=255, db_index=True)
    alias = models.CharField(max_length=255, unique=True)
    command = models.TextField(blank=True, default="")
    task_type = models.CharField(max_length=64, blank=True, default="task")
    requires_docker = models.BooleanField(default=False)
    target_cluster = models.CharField(max_length=255, blank=True, default="")
    image = models.CharField(max_length=1024)
    memory = models.IntegerField(null=True, blank=True)  # MB
    cpu = models.IntegerField(null=True, blank=True)  # millicores
    gpu = models.IntegerField(null=True, blank=True)
    ephemeral_storage = models.IntegerField(null=True, blank=True)  # MB
    # [{"name": …, "value": …}, …] in the order given.
    env = models.JSONField(default=list, blank=True)
    # The same pairs as searchable text (domain/runs/envs.py): `env=NAME|VALUE` filters on it.
    env_index = models.TextField(blank=True, default="")
    adaptive_resource_allocation = models.BooleanField(null=True, blank=True)
    ports = models.JSONField(default=list, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="definitions")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"definition {self.alias}"


class Run(models.Model):
    """One request to run a definition; its attempts are executions. An empty text field is
    one the original leaves out of its JSON (nil)."""

    run_id = models.CharField(primary_key=True, max_length=64)
    definition = models.ForeignKey(Definition, on_delete=models.CASCADE, related_name="runs")
    # Copied from the definition when the run is made, so a later edit changes no run.
    alias = models.CharField(max_length=255)
    group_name = models.CharField(max_length=255)
    image = models.CharField(max_length=1024)
    task_type = models.CharField(max_length=64, blank=True, default="task")
    requires_docker = models.BooleanField(default=False)
    command = models.TextField(blank=True, default="")
    command_hash = models.CharField(max_length=32, blank=True, default="")

    cluster = models.CharField(max_length=255)
    engine = models.CharField(max_length=16)  # as the client sent it: eks or ecs
    node_lifecycle = models.CharField(max_length=16, default="spot")
    tier = models.CharField(max_length=64, blank=True, default="")
    arch = models.CharField(max_length=32, blank=True, default="")
    service_account = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    idempotence_key = models.CharField(max_length=255, blank=True, default="", db_index=True)
    labels = models.JSONField(default=dict, blank=True)
    run_tags = models.JSONField(default=dict, blank=True)

    memory = models.IntegerField(null=True, blank=True)
    memory_limit = models.IntegerField(null=True, blank=True)
    cpu = models.IntegerField(null=True, blank=True)
    cpu_limit = models.IntegerField(null=True, blank=True)
    gpu = models.IntegerField(null=True, blank=True)
    ephemeral_storage = models.IntegerField(null=True, blank=True)
    active_deadline_seconds = models.PositiveIntegerField()

    # The full effective environment (definition, then request, then reserved; issue #58).
    env = models.JSONField(default=list, blank=True)
    env_index = models.TextField(blank=True, default="")

    # Who: the owner the client named, and the API token (or proxy user) that asked.
    user = models.CharField(max_length=255, blank=True, default="")
    token_name = models.CharField(max_length=255, blank=True, default="")

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    exit_code = models.BigIntegerField(null=True, blank=True)
    exit_reason = models.TextField(blank=True, default="")
    run_exceptions = models.JSONField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The current attempt, and what its engine reported.
    execution_id = models.CharField(max_length=64, blank=True, default="")
    attempt_count = models.PositiveIntegerField(default=1)
    instance = models.CharField(max_length=255, blank=True, default="")
    pod_name = models.CharField(max_length=255, blank=True, default="")
    namespace = models.CharField(max_length=255, blank=True, default="")
    max_memory_used = models.BigIntegerField(null=True, blank=True)
    max_cpu_used = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "queued_at"]),
            models.Index(fields=["definition", "status"]),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} ({self.status})"


class ClusterStatus(models.TextChoices):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"


CLUSTER_CAPABILITIES = ("pool-sizing", "shared-pool")


def new_cluster_id() -> str:
    return str(uuid.uuid4())


class ClusterMetadata(models.Model):
    """What Flotilla knows about a cluster: whether it takes runs, and for which tiers."""

    id = models.CharField(primary_key=True, max_length=64, default=new_cluster_id)
    name = models.CharField(max_length=255, unique=True)
    cluster_version = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.ACTIVE
    )
    status_reason = models.TextField(blank=True, default="")
    status_since = models.DateTimeField(default=timezone.now)
    allowed_tiers = models.JSONField(default=list, blank=True)
    capabilities = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    namespace = models.CharField(max_length=255, blank=True, default="")
    region = models.CharField(max_length=64, blank=True, default="")
    emr_virtual_cluster = models.CharField(max_length=255, blank=True, default="")
    spark_server_uri = models.CharField(max_length=1024, blank=True, default="")

    def __str__(self) -> str:
        return f"cluster {self.name}"
