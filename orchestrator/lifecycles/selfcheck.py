"""Canvases for the self-check: a fan-out/fan-in chord and a sequential chain."""

from __future__ import annotations

from celery import chain, chord
from celery.result import AsyncResult

from orchestrator.tasks.common import add, echo, record_selfcheck


def start_selfcheck_chord(*, nonce: str, values: list[int]) -> AsyncResult:
    """echo(v) for each v in parallel, then one callback records their sum under `nonce`."""
    return chord(echo.s(v) for v in values)(record_selfcheck.s(nonce=nonce))


def start_selfcheck_chain(*, nonce: str, start: int, addends: list[int]) -> AsyncResult:
    """echo(start) → add(a1) → add(a2) … → record the result under `nonce`."""
    steps = [echo.si(start), *(add.s(a) for a in addends), record_selfcheck.s(nonce=nonce)]
    return chain(*steps).apply_async()
