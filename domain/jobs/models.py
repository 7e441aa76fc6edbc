"""Scale job types (specs/scale-and-flotilla.md A.2, A.5, A.10), their revisions, the workspaces
their outputs go to, the error catalogue and the encrypted store of secret values.

A job type row is one (name, version). Its Seed manifest is stored with Seed's defaults filled
in (domain/jobs/manifest.py); its configuration never holds a secret setting's value: those live
encrypted in `StoredSecret` (domain/jobs/secret_store.py).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

# The lengths the original's columns had (A.2): a longer name or version is refused as input.
NAME_MAX = 50
VERSION_MAX = 50
ICON_CODE_MAX = 20


class JobType(models.Model):
    name = models.CharField(max_length=NAME_MAX)
    version = models.CharField(max_length=VERSION_MAX)
    # [major, minor, patch, prerelease number or null]: picks the "latest" version (versions.py).
    version_array = models.JSONField(default=list)
    title = models.TextField(blank=True, default="")
    description = models.TextField(blank=True, default="")
    # Null on the wire is not "" (the original's columns): DJ001 does not apply to these.
    icon_code = models.CharField(max_length=ICON_CODE_MAX, null=True, blank=True)  # noqa: DJ001
    is_published = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_paused = models.BooleanField(default=False)
    is_system = models.BooleanField(default=False)
    is_long_running = models.BooleanField(default=False)
    # Null (or 0) = no limit on jobs of this type running at once.
    max_scheduled = models.PositiveIntegerField(null=True, blank=True)
    max_tries = models.PositiveIntegerField(default=3)
    revision_num = models.PositiveIntegerField(default=1)
    docker_image = models.TextField()
    # Comma-joined names of resources no host offers; set and cleared by the scheduler (A.11).
    unmet_resources = models.TextField(null=True, blank=True)  # noqa: DJ001
    manifest = models.JSONField()
    # Configuration JSON (A.8) with every section filled in, without secret values.
    configuration = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    deprecated = models.DateTimeField(null=True, blank=True)
    paused = models.DateTimeField(null=True, blank=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="jobs_jobtype_name_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def secrets_key(self) -> str:
        """Where its secret settings are stored: the original's `name-version`, dots as `_`."""
        return f"{self.name}-{self.version}".replace(".", "_")


class JobTypeTag(models.Model):
    """One of `job.tags`: the `keyword` filter matches a name or a tag."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="tags")
    tag = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["tag"])]


class JobTypeRevision(models.Model):
    """The manifest and image of a job type as of one manifest change (A.5)."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="revisions")
    revision_num = models.PositiveIntegerField()
    manifest = models.JSONField()
    docker_image = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job_type", "revision_num"], name="jobs_revision_per_type"
            )
        ]


class BrokerType(models.TextChoices):
    HOST = "host"
    S3 = "s3"


class Workspace(models.Model):
    """Where files live: a host directory or an S3-compatible bucket (`json_config.broker`).
    S3 credentials are not in `json_config`: they are a StoredSecret."""

    name = models.CharField(max_length=NAME_MAX, unique=True)
    title = models.TextField()
    description = models.TextField(blank=True, default="")
    # Null: not web-accessible.
    base_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    is_active = models.BooleanField(default=True)
    json_config = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    deprecated = models.DateTimeField(null=True, blank=True)
    last_modified = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @property
    def broker_type(self) -> str:
        return (self.json_config.get("broker") or {}).get("type", "")

    @property
    def secrets_key(self) -> str:
        return f"workspace-{self.pk}"


class ErrorCategory(models.TextChoices):
    SYSTEM = "SYSTEM"
    ALGORITHM = "ALGORITHM"
    DATA = "DATA"


class Error(models.Model):
    """A named reason a job failed (A.10). Builtin errors have no job type name; a manifest's
    errors are stored under its job type's name."""

    name = models.TextField()
    # Null for a builtin error.
    job_type_name = models.CharField(max_length=NAME_MAX, null=True, blank=True)  # noqa: DJ001
    title = models.TextField(blank=True, default="")
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=16, choices=ErrorCategory.choices)
    is_builtin = models.BooleanField(default=False)
    should_be_retried = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job_type_name", "name"], name="jobs_error_per_job_type"
            ),
            # A unique constraint treats nulls as distinct: builtin names need their own.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(job_type_name__isnull=True),
                name="jobs_error_builtin_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StoredSecret(models.Model):
    """A JSON object of secret values, encrypted with Fernet (domain/jobs/secret_store.py). The
    plaintext is never stored, logged or returned by an endpoint."""

    key = models.CharField(max_length=200, unique=True)
    ciphertext = models.TextField()
    updated = models.DateTimeField(auto_now=True)


class JobStatus(models.TextChoices):
    """A job's status (A.9). PENDING and BLOCKED belong to recipes, which are not served yet."""

    PENDING = "PENDING"
    BLOCKED = "BLOCKED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


FINAL_STATUSES = (JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.CANCELED)


class Job(models.Model):
    """One job of a job type: its input, its configuration and where it is in its life.

    `num_exes` counts the times it was queued; execution number `num_exes` is its current
    attempt. `execution_id` names that attempt's Execution once the scheduler gave it one (empty
    while it waits in the queue): a QUEUED job with an execution is "scheduled".
    """

    job_type = models.ForeignKey(JobType, on_delete=models.PROTECT, related_name="jobs")
    job_type_rev = models.ForeignKey(JobTypeRevision, on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=JobStatus.choices)
    # Lower first (A.8); equal priorities in queue order.
    priority = models.IntegerField(default=100)
    max_tries = models.PositiveIntegerField()
    num_exes = models.PositiveIntegerField(default=0)
    # Data JSON: {"files": {NAME: [file id, …]}, "json": {NAME: value}}.
    input = models.JSONField(default=dict)
    input_file_size = models.FloatField(default=0)  # MiB, summed over the input files
    # {"files": {NAME: [file id, …]}, "json": {NAME: value}} once COMPLETED.
    output = models.JSONField(default=dict, blank=True)
    # The job's configuration, its job type's inherited field by field (A.8), no secrets.
    configuration = models.JSONField(default=dict)
    # {"cpus", "mem", "disk", "gpus", …} in the manifest's units (MiB), minimums applied.
    resources = models.JSONField(default=dict)
    error = models.ForeignKey(Error, null=True, blank=True, on_delete=models.PROTECT)
    node = models.CharField(max_length=255, blank=True, default="")
    execution_id = models.CharField(max_length=64, blank=True, default="")
    is_superseded = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    queued = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)
    last_status_change = models.DateTimeField(null=True, blank=True)
    superseded = models.DateTimeField(null=True, blank=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The scheduler's scan: queued and not yet given an execution, in queue order.
            models.Index(
                fields=["priority", "queued", "id"],
                name="jobs_queue",
                condition=Q(status="QUEUED", execution_id=""),
            ),
            models.Index(fields=["job_type", "status"]),
            models.Index(fields=["status", "last_status_change"]),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class JobExecution(models.Model):
    """Execution number `exe_num` of a job: the Execution row that ran it (domain/executions,
    `owner_type="jobs.job"`, `attempt=exe_num`) and what the job made of its end."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="executions")
    # Its job's type, so the scheduler counts a type's open executions with one index.
    job_type = models.ForeignKey(JobType, on_delete=models.PROTECT, related_name="+")
    exe_num = models.PositiveIntegerField()
    execution_id = models.CharField(max_length=64, unique=True)
    # RUNNING while open, then FAILED / COMPLETED / CANCELED.
    status = models.CharField(max_length=16, choices=JobStatus.choices)
    error = models.ForeignKey(Error, null=True, blank=True, on_delete=models.PROTECT)
    # What the collect step found in OUTPUT_DIR (before the execution's end was recorded), and
    # the builtin error's name when the outputs broke the manifest's rules.
    output = models.JSONField(default=dict, blank=True)
    output_error = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "exe_num"], name="jobs_exe_per_job"),
        ]
        indexes = [
            models.Index(
                fields=["job_type"], name="jobs_exe_open", condition=Q(ended__isnull=True)
            ),
        ]


class JobEvent(models.Model):
    """One row per change of a job's status (and per scheduling), written in the same
    transaction as the change."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    type = models.CharField(max_length=32)  # USER, SCHEDULED, EXECUTION, RETRY, CANCEL, REQUEUE
    source = models.CharField(max_length=16, blank=True, default="")
    target = models.CharField(max_length=16, blank=True, default="")
    exe_num = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]


class ScaleFile(models.Model):
    """A file in a workspace: an input a job was given or an output a job produced."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="files")
    file_name = models.CharField(max_length=250)
    # Relative to the workspace's root (its directory or its bucket).
    file_path = models.CharField(max_length=1000)
    file_size = models.BigIntegerField(default=0)
    media_type = models.CharField(max_length=250, blank=True, default="")
    checksum = models.CharField(max_length=64, blank=True, default="")  # sha256, hex
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="output_files"
    )
    job_exe_num = models.PositiveIntegerField(null=True, blank=True)
    job_output = models.CharField(max_length=250, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "files"

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.file_path}"


class JobLoad(models.Model):
    """How many jobs were pending, queued and running at one moment (beat measures it every
    `SCALE_LOAD_INTERVAL` seconds; GET /v6/load/ reads it)."""

    measured = models.DateTimeField(db_index=True)
    pending_count = models.PositiveIntegerField()
    queued_count = models.PositiveIntegerField()
    running_count = models.PositiveIntegerField()
