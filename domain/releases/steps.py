"""The next steps of a release, as the domain names them (see domain/common/steps.py).

Each is scheduled by a transition in domain/releases/services.py (or a sweep) and turned into a
canvas by the handler of the same name in orchestrator/lifecycles/releases.py. Ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain.common.steps import Step


@dataclass(frozen=True)
class ReleaseStep(Step):
    family: ClassVar[str] = "releases"


@dataclass(frozen=True)
class PrepareRelease(ReleaseStep):
    """waiting → initializing: create one task per enabled service."""

    name: ClassVar[str] = "prepare"
    release_id: str


@dataclass(frozen=True)
class InitializeTasks(ReleaseStep):
    """`initialize` to every task's service, then start the release."""

    name: ClassVar[str] = "initialize"
    release_id: str
    task_ids: tuple[str, ...]


@dataclass(frozen=True)
class StartRelease(ReleaseStep):
    """initializing → running once every task is initialized."""

    name: ClassVar[str] = "start_release"
    release_id: str


@dataclass(frozen=True)
class SendStart(ReleaseStep):
    """`start` to these running tasks' services."""

    name: ClassVar[str] = "start"
    release_id: str
    task_ids: tuple[str, ...]


@dataclass(frozen=True)
class SendPublish(ReleaseStep):
    """`publish` to these publishing tasks' services."""

    name: ClassVar[str] = "publish"
    release_id: str
    task_ids: tuple[str, ...]


@dataclass(frozen=True)
class CancelRelease(ReleaseStep):
    """`cancel` to the services of the live tasks collected under the release lock, then the
    release ends canceled or failed."""

    name: ClassVar[str] = "cancel"
    release_id: str
    task_ids: tuple[str, ...]


@dataclass(frozen=True)
class CheckRelease(ReleaseStep):
    """Re-derive the release's next move from its tasks."""

    name: ClassVar[str] = "check"
    release_id: str


@dataclass(frozen=True)
class PollTasks(ReleaseStep):
    """Ask the services for these tasks' status: one group of task ids per task service."""

    name: ClassVar[str] = "poll"
    groups: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class CheckHealth(ReleaseStep):
    """`GET /status` of each of these task services."""

    name: ClassVar[str] = "health"
    service_ids: tuple[str, ...]
