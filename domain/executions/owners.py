"""How an owner (a Flotilla run, a Scale job) hears about its executions.

The owner registers one hook for its `owner_type` when its app is ready; every state change of
an execution of that type calls it inside the transition's transaction, so the owner's own
state moves in the same commit. Executions never import their owners.

An owner may also register `WorkdirHooks` for the scratch directory of its executions on host
engines (a Scale job stages its input files and collects its outputs there):

    prepare(execution_id, workdir) → extra environment   before the command starts
    collect(execution_id, workdir)                        after it exited 0, before its end is
                                                          recorded and the directory removed

An engine with no scratch directory on a Regatta host (kubernetes) runs neither; what the owner
still needs there it says with `output_env` and `secret_env` (below).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.executions.models import Execution

OwnerHook = Callable[["Execution", str, str], None]
_hooks: dict[str, OwnerHook] = {}


@dataclass(frozen=True)
class WorkdirHooks:
    prepare: Callable[[str, Path], list[tuple[str, str]]]
    collect: Callable[[str, Path], None]
    # Directories of the scratch directory (relative paths, made by `prepare`) the command
    # writes. An engine that binds the scratch directory into a container binds these
    # read-write and hands them to the container's user; the rest stays read-only.
    writable: tuple[str, ...] = ()
    # The owner serves stderr apart (Scale's logs): the local engine reads it from its own
    # pipe, the docker engine from the container's stderr stream. Two streams lose the order
    # between them when both have data waiting (a `bash -x` trace and a builtin's output are
    # written microseconds apart), so an owner whose output is read combined (Flotilla) keeps
    # the one joined pipe, in exact order.
    separate_stderr: bool = False
    # The variable that names the writable directory `prepare` makes for the command's outputs
    # (a job's OUTPUT_DIR). An engine that runs no `prepare` gives the command an empty
    # writable directory of its own and sets this variable to its path.
    output_env: str = ""
    # `secret_env(execution_id)`: the variables `prepare` adds whose values must never be stored
    # with the execution nor written where others can read them (a job's secret settings). An
    # engine that runs no `prepare` asks for them at launch and hands them over its own secret
    # way (kubernetes: a Secret the Job references).
    secret_env: Callable[[str], list[tuple[str, str]]] | None = None


_workdir_hooks: dict[str, WorkdirHooks] = {}


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


def owner_workdir(owner_type: str) -> Callable[[WorkdirHooks], WorkdirHooks]:
    """Register what prepares and collects the scratch directory of `owner_type`'s executions."""

    def register(hooks: WorkdirHooks) -> WorkdirHooks:
        _workdir_hooks[owner_type] = hooks
        return hooks

    return register


def workdir_hooks(owner_type: str) -> WorkdirHooks | None:
    return _workdir_hooks.get(owner_type)
