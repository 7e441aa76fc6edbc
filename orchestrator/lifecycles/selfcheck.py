"""Canvases for the self-check: a fan-out/fan-in chord and a sequential chain."""

from __future__ import annotations

from celery import chain, chord
from celery.result import AsyncResult

from domain.common.selfcheck import SelfCheckChain, SelfCheckChord
from domain.common.steps import step_handler
from orchestrator.celery import app


def start_selfcheck_chord(*, nonce: str, values: list[int]) -> AsyncResult:
    """echo(v) for each v in parallel, then one callback records their sum under `nonce`."""
    header = [app.signature("common.echo", args=(v,)) for v in values]
    return chord(header)(app.signature("common.record_selfcheck", kwargs={"nonce": nonce}))


def start_selfcheck_chain(*, nonce: str, start: int, addends: list[int]) -> AsyncResult:
    """echo(start) → add(a1) → add(a2) … → record the result under `nonce`."""
    steps = [
        app.signature("common.echo", args=(start,), immutable=True),
        *(app.signature("common.add", args=(a,)) for a in addends),
        app.signature("common.record_selfcheck", kwargs={"nonce": nonce}),
    ]
    return chain(*steps).apply_async()


@step_handler(SelfCheckChord)
def selfcheck_chord(step: SelfCheckChord) -> None:
    start_selfcheck_chord(nonce=step.nonce, values=list(step.values))


@step_handler(SelfCheckChain)
def selfcheck_chain(step: SelfCheckChain) -> None:
    start_selfcheck_chain(nonce=step.nonce, start=step.start, addends=list(step.addends))
