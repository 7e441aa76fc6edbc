"""The next steps of an execution, as the domain names them (see domain/common/steps.py).

Each is turned into a Celery message by orchestrator/lifecycles/executions.py. Ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain.common.steps import Step


@dataclass(frozen=True)
class ExecutionStep(Step):
    family: ClassVar[str] = "executions"


@dataclass(frozen=True)
class DispatchCluster(ExecutionStep):
    """Hand the cluster's QUEUED executions to the free slots of its hosts, in queue order."""

    name: ClassVar[str] = "dispatch"
    cluster: str


@dataclass(frozen=True)
class LaunchExecution(ExecutionStep):
    """Start a PENDING execution on the host whose slot it holds (`queue` is that host's)."""

    name: ClassVar[str] = "launch"
    execution_id: str
    queue: str


@dataclass(frozen=True)
class StopExecution(ExecutionStep):
    """Tell the host running it that a stop was asked for (its supervisor acts on it), or that
    it ended lost (the host kills whatever is left of it)."""

    name: ClassVar[str] = "stop"
    execution_id: str
    queue: str
