"""Compare-and-set state transitions with an append-only log row in the same transaction.

Every state field in Regatta changes through `transition()`. It locks the row, checks the
current state against the allowed sources, writes the new state and any extra fields, appends a
`TransitionLog` row and runs the caller's `on_applied` hook (family-specific event rows), all in
one transaction. A second caller that arrives after the state moved finds it moved: a redelivered
Celery message or a duplicate PATCH is a no-op, never a double transition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction

from domain.common.errors import IllegalTransition, NotFound
from domain.common.models import TransitionLog


@dataclass(frozen=True)
class TransitionResult:
    applied: bool
    source: str
    target: str
    obj: Any = field(repr=False)


def log_transition(
    *,
    aggregate: str,
    aggregate_id: str,
    source: str,
    target: str,
    detail: dict | None = None,
    field_name: str = "state",
) -> TransitionLog:
    """Append one row to the transition log (callers are already inside a transaction)."""
    return TransitionLog.objects.create(
        aggregate=aggregate,
        aggregate_id=str(aggregate_id),
        field=field_name,
        source=source,
        target=target,
        detail=detail or {},
    )


def transition(
    model: type[models.Model],
    *,
    pk: Any,
    target: str,
    allowed_from: Iterable[str],
    field_name: str = "state",
    updates: dict[str, Any] | Callable[[Any], dict[str, Any]] | None = None,
    on_applied: Callable[[Any, str, str], None] | None = None,
    strict: bool = False,
    detail: dict | None = None,
    locked: models.Model | None = None,
    log: bool = True,
) -> TransitionResult:
    """Move `model(pk)` to `target` if its state is one of `allowed_from`.

    Returns a result with `applied=False` when the row is already elsewhere (another worker got
    there first), unless `strict`, in which case an illegal move raises `IllegalTransition`.
    Repeating the current state is never an error and never logged.

    `locked` is the row when the caller already holds it `select_for_update` in its own
    transaction: it is not read again, and no savepoint is made (two round trips), so an error
    here aborts the caller's whole transaction.
    """
    # `log=False` is for an aggregate whose `on_applied` appends its own event row with the same
    # facts (executions): one log row per transition, not two.
    allowed = frozenset(allowed_from)
    with transaction.atomic(savepoint=locked is None):
        obj = locked or model.objects.select_for_update().filter(pk=pk).first()
        if obj is None:
            raise NotFound(f"{model.__name__} {pk} not found")
        source = getattr(obj, field_name)
        if source == target and source not in allowed:
            return TransitionResult(False, source, target, obj)
        if source not in allowed:
            if strict:
                raise IllegalTransition(model.__name__.lower(), source, target)
            return TransitionResult(False, source, target, obj)
        extra = updates(obj) if callable(updates) else (updates or {})
        setattr(obj, field_name, target)
        for name, value in extra.items():
            setattr(obj, name, value)
        obj.save(update_fields=[field_name, *extra.keys()])
        if log:
            log_transition(
                aggregate=model._meta.label_lower,
                aggregate_id=pk,
                source=source,
                target=target,
                detail=detail,
                field_name=field_name,
            )
        if on_applied is not None:
            on_applied(obj, source, target)
        return TransitionResult(True, source, target, obj)
