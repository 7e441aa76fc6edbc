"""How an owner (a Flotilla run, a Scale job) hears about its executions.

The owner registers one hook for its `owner_type` when its app is ready; every state change of
an execution of that type calls it inside the transition's transaction, so the owner's own
state moves in the same commit. Executions never import their owners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.executions.models import Execution

OwnerHook = Callable[["Execution", str, str], None]
_hooks: dict[str, OwnerHook] = {}


def owner_hook(owner_type: str) -> Callable[[OwnerHook], OwnerHook]:
    """Register `hook(execution, source, target)` for executions owned by `owner_type`."""

    def register(hook: OwnerHook) -> OwnerHook:
        existing = _hooks.get(owner_type)
        if existing is not None and existing is not hook:
            raise ValueError(f"{owner_type} already has an execution hook: {existing!r}")
        _hooks[owner_type] = hook
        return hook

    return register


def owner_notify(execution: Execution, source: str, target: str) -> None:
    hook = _hooks.get(execution.owner_type)
    if hook is not None:
        hook(execution, source, target)
