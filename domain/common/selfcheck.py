"""Self-check: a chord and a chain through the real workers that must end in a database row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from django.db import IntegrityError
from django.utils import timezone

from domain.common.models import SelfCheck
from domain.common.steps import Step, step_run


@dataclass(frozen=True)
class SelfCheckChord(Step):
    """echo(v) for each v in parallel; the callback records their sum under `nonce`."""

    family: ClassVar[str] = "common"
    name: ClassVar[str] = "selfcheck_chord"
    nonce: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class SelfCheckChain(Step):
    """echo(start) → add(a1) → add(a2) … → the result recorded under `nonce`."""

    family: ClassVar[str] = "common"
    name: ClassVar[str] = "selfcheck_chain"
    nonce: str
    start: int
    addends: tuple[int, ...]


def selfcheck_start(*, chord_nonce: str, chain_nonce: str) -> dict[str, int]:
    """Send the chord and the chain now (a broker error reaches the caller); returns the total
    each nonce's row must end with."""
    step_run(SelfCheckChord(nonce=chord_nonce, values=(1, 2, 3, 4)))
    step_run(SelfCheckChain(nonce=chain_nonce, start=1, addends=(2, 3)))
    return {chord_nonce: 10, chain_nonce: 6}


def selfcheck_record(*, nonce: str, total: int) -> SelfCheck:
    """Idempotent: a redelivered callback finds the row already written."""
    try:
        return SelfCheck.objects.create(nonce=nonce, total=total)
    except IntegrityError:
        return SelfCheck.objects.get(nonce=nonce)


def selfcheck_prune(*, older_than: timedelta = timedelta(days=7)) -> int:
    deleted, _ = SelfCheck.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
