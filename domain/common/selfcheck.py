"""Self-check: a chord and a chain through the real workers that must end in a database row."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError
from django.utils import timezone

from domain.common.models import SelfCheck


def selfcheck_record(*, nonce: str, total: int) -> SelfCheck:
    """Idempotent: a redelivered callback finds the row already written."""
    try:
        return SelfCheck.objects.create(nonce=nonce, total=total)
    except IntegrityError:
        return SelfCheck.objects.get(nonce=nonce)


def selfcheck_prune(*, older_than: timedelta = timedelta(days=7)) -> int:
    deleted, _ = SelfCheck.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
