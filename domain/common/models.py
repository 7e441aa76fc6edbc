"""Cross-family models: API tokens, the append-only transition log, worker self-checks."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin"
    DEV = "dev"
    USER = "user"
    # A machine caller bound to one subject (e.g. a task service that may PATCH only its tasks).
    SERVICE = "service"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored: the plaintext is shown once, at creation."""

    name = models.CharField(max_length=100, blank=True, default="")
    role = models.CharField(max_length=16, choices=Role.choices)
    study_groups = models.JSONField(default=list, blank=True)
    # What a service token is bound to, e.g. "task-service:TS_ABCDEFGH"; empty for people.
    subject = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # None = never expires. Checked on every request, so an expired token is refused at once.
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.token_prefix}… ({self.role}{', ' + self.name if self.name else ''})"


class AppendOnlyQuerySet(models.QuerySet):
    """History is written once: bulk rewrites and deletes are refused, not just `save()`."""

    def update(self, **kwargs):
        raise ValueError("TransitionLog rows are append-only")

    def delete(self):
        raise ValueError("TransitionLog rows are append-only")


class TransitionLog(models.Model):
    """Every state change of every aggregate, appended in the transaction that made it."""

    aggregate = models.CharField(max_length=40)
    aggregate_id = models.CharField(max_length=64)
    field = models.CharField(max_length=40, default="state")
    source = models.CharField(max_length=40)
    target = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["aggregate", "aggregate_id", "at"])]

    def save(self, *args, **kwargs) -> None:
        # The log is history: rows are written once and never rewritten.
        if self.pk is not None:
            raise ValueError("TransitionLog rows are append-only")
        super().save(*args, **kwargs)


class SelfCheck(models.Model):
    """Written by the callback of the self-check chord: proof that workers, broker and DB agree."""

    nonce = models.CharField(max_length=64, unique=True)
    total = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
