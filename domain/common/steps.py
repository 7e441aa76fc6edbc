"""Next steps: how a domain service says what must happen after its transaction commits.

A domain service never imports orchestrator/. It names its next step as a typed dataclass (a
`Step` subclass in its family's `steps.py`, e.g. `domain.releases.steps.PrepareRelease`) and
schedules it with `step_after_commit`. Orchestrator fills this module's registry at start
(`orchestrator/lifecycles/__init__.py`): one handler per step type, which builds the step's
canvas from task signatures. A reader of a transition follows the step by name: the dataclass,
then the one handler registered for it.

Every family (releases now, runs and jobs later) uses this same mechanism.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """What must happen next. Subclasses are frozen dataclasses that carry ids only."""

    family: ClassVar[str] = ""
    # The step's short name, as the logs and the error events say it ("prepare", "cancel", …).
    name: ClassVar[str] = ""


S = TypeVar("S", bound=Step)
Handler = Callable[[Any], None]
_handlers: dict[type[Step], Handler] = {}


def step_handler(step_type: type[S]) -> Callable[[Callable[[S], None]], Callable[[S], None]]:
    """Register the one handler of `step_type` (orchestrator does this at start)."""

    def register(handler: Callable[[S], None]) -> Callable[[S], None]:
        existing = _handlers.get(step_type)
        if existing is not None and existing is not handler:
            raise ValueError(f"{step_type.__name__} already has a handler: {existing!r}")
        _handlers[step_type] = handler
        return handler

    return register


def step_run(step: Step) -> None:
    """Hand `step` to its handler now. Whatever the handler raises (a broker that is down)
    reaches the caller: a compatibility trigger whose only effect is this enqueue says so."""
    handler = _handlers.get(type(step))
    if handler is None:
        raise LookupError(
            f"no handler for {type(step).__name__}: orchestrator.lifecycles.install() registers "
            "them at start"
        )
    handler(step)


def step_after_commit(step: Step, *, only_if: Callable[[], bool] | None = None) -> None:
    """Run `step` once the current transaction commits (at once outside a transaction).

    A failed enqueue (the broker is down) never fails the caller: the state is committed
    already, a client told "500" would retry and create a duplicate, and the reconciler
    re-drives every release whose next step was lost.

    `only_if()`, when given, is asked after the commit (so it sees everything committed before
    it): False means nothing is left for the step to do, and it is not sent."""
    transaction.on_commit(partial(_run_logged, step, only_if))


def _run_logged(step: Step, needed: Callable[[], bool] | None = None) -> None:
    try:
        if needed is None or needed():
            step_run(step)
    except Exception:  # noqa: BLE001 (whatever the broker raised, the reconciler recovers)
        logger.warning(
            "could not enqueue %s step %s after commit (%r); the reconciler re-drives it",
            step.family,
            step.name,
            step,
            exc_info=True,
        )
