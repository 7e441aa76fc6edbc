"""The task tracker's tables: projects, workers and their access, tasks, verifications,
managers and their per-project roles, log entries and monitoring snapshots.

Closing a task deletes it (the original has no CLOSED status); `closed_task_count` on the project
and the worker keeps the tally. Hot-path queries (assignment, release, bulk insert) are plain SQL
in `domain/tracker/queue.py` against these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Task status codes on the wire.
NEW = 1
FAILED = 2

# Release results.
TR_OK = 0
TR_FAIL = 1
TR_SKIP = 2

# Per-project manager roles (a bitmask).
ROLE_READ = 1
ROLE_EDIT = 2
ROLE_MANAGE_ACCESS = 4
ROLE_SECRET = 8
ROLE_MAINTENANCE = 16
ROLE_ALL = 31


class Project(models.Model):
    priority = models.BigIntegerField(default=0)
    name = models.TextField(unique=True)
    clone_url = models.TextField(default="", blank=True)
    git_repo = models.TextField(default="", blank=True)
    version = models.TextField(default="", blank=True)
    motd = models.TextField(default="", blank=True)
    public = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    chain = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    paused = models.BooleanField(default=False)
    # Events per second; "infinite" is stored as the largest float, as the original shows it.
    assign_rate = models.FloatField()
    submit_rate = models.FloatField()
    # Handed to workers that may assign from the project (configuration, not a credential).
    secret = models.TextField(default="{}")
    # HMAC key of /git/receivehook; must be readable to compute the HMAC.
    webhook_secret = models.TextField(default="")
    closed_task_count = models.BigIntegerField(default=0)


class Worker(models.Model):
    created = models.BigIntegerField()
    alias = models.TextField(default="")
    # SHA-256 of the 32 random secret bytes: the plaintext is shown once, at creation.
    secret_hash = models.BinaryField(max_length=32)
    paused = models.BooleanField(default=False)
    closed_task_count = models.BigIntegerField(default=0)


class WorkerAccess(models.Model):
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    role_assign = models.BooleanField(default=False)
    role_submit = models.BooleanField(default=False)
    # True while the request waits for a manager.
    request = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "project"], name="worker_access_unique")
        ]


class Task(models.Model):
    # No database constraint or single-column index on these two: every writer checks the
    # project in the statement that inserts, projects and workers are never deleted, and the
    # constraint triggers and extra index entries cost a third of a bulk submit and part of every
    # assignment (each assignment rewrites the row, with an entry in every index). The project
    # is the first column of `project_hash_unique` and `task_assignable`, which serve its lookups.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, db_constraint=False, db_index=False
    )
    priority = models.SmallIntegerField(default=0)
    assignee = models.ForeignKey(
        Worker, null=True, on_delete=models.SET_NULL, db_constraint=False, db_index=False
    )
    retries = models.SmallIntegerField(default=0)
    max_retries = models.SmallIntegerField(default=0)
    status = models.SmallIntegerField(default=NEW)
    recipe = models.TextField()
    max_assign_time = models.BigIntegerField(default=0)
    assign_time = models.BigIntegerField(null=True)
    verification_count = models.SmallIntegerField(default=1)
    # 0 on the wire is stored as NULL: NULLs never conflict in the unique constraint.
    hash64 = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "hash64"], name="project_hash_unique")
        ]
        indexes = [
            # The assignment query walks this index: eligible tasks of one project, best first.
            models.Index(
                "project",
                models.F("priority").desc(),
                "id",
                name="task_assignable",
                condition=models.Q(status=NEW, assignee__isnull=True),
            ),
            models.Index(
                "assign_time", name="task_assigned", condition=models.Q(assignee__isnull=False)
            ),
        ]


class WorkerVerifiesTask(models.Model):
    # The database cascades the delete of a closed task (migration 0002); the ORM must not.
    task = models.ForeignKey(Task, on_delete=models.DO_NOTHING, db_constraint=False)
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE)
    verification_hash = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "worker"], name="worker_verifies_task_unique")
        ]


class ClosedTally(models.Model):
    """One row per closed task, folded into the project's and worker's `closed_task_count` by
    the beat sweeps. Counting by insert keeps concurrent closes off the project's row lock."""

    project_id = models.BigIntegerField()
    worker_id = models.BigIntegerField()


class Manager(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracker_manager"
    )
    tracker_admin = models.BooleanField(default=False)
    register_time = models.BigIntegerField()


class ManagerRole(models.Model):
    manager = models.ForeignKey(Manager, on_delete=models.CASCADE)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    role = models.SmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["manager", "project"], name="manager_role_unique")
        ]


class LogEntry(models.Model):
    level = models.SmallIntegerField()
    message = models.TextField()
    message_data = models.TextField(default="{}")
    timestamp = models.BigIntegerField()

    class Meta:
        indexes = [models.Index("level", "timestamp", name="log_level_time")]


class MonitoringSnapshot(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    new_task_count = models.BigIntegerField()
    failed_task_count = models.BigIntegerField()
    closed_task_count = models.BigIntegerField()
    worker_access_count = models.BigIntegerField()
    awaiting_verification_count = models.BigIntegerField()
    time_stamp = models.BigIntegerField()

    class Meta:
        indexes = [models.Index("project", "time_stamp", name="snapshot_project_time")]
