"""Request and response bodies of the releases family (field names of the original API).

The `*Out` schemas render model instances themselves (ninja's `resolve_<field>` methods): related
objects as absolute hyperlinks built from the request in the validation context, timestamps as
the original's UTC `Z` strings. Field order is the wire order.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Schema
from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from api.releases.links import iso, link
from domain.releases import conf
from domain.releases.models import Event, Release, ReleaseNote, Study, Task, TaskService

Tag = Annotated[str, Field(max_length=50)]
StudyId = Annotated[str, Field(max_length=11)]
# An int or a string such as "50%" (#115); the domain parses it. Strict, because pydantic would
# otherwise turn `true` into 1 before the domain could refuse it.
Progress = StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=20)]


class ReleaseIn(Schema):
    name: str = Field(..., min_length=1, max_length=256)
    description: str = Field("", max_length=5000)
    author: str = Field("admin", max_length=100)
    tags: list[Tag] = Field(default_factory=list, max_length=500)
    studies: list[StudyId] = Field(default_factory=list, max_length=10000)
    is_major: StrictBool = False


class ReleasePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=5000)
    author: str | None = Field(None, max_length=100)
    tags: list[Tag] | None = Field(None, max_length=500)
    studies: list[StudyId] | None = Field(None, max_length=10000)
    is_major: StrictBool | None = None


class TaskOut(Schema):
    kf_id: str
    state: str
    progress: int
    release: str
    task_service: str
    created_at: str
    service_name: str

    @staticmethod
    def resolve_release(obj: Task, context: dict[str, Any]) -> str | None:
        return link(_request(context), "releases", obj.release_id)

    @staticmethod
    def resolve_task_service(obj: Task, context: dict[str, Any]) -> str | None:
        return link(_request(context), "task-services", obj.task_service_id)

    @staticmethod
    def resolve_created_at(obj: Task) -> str | None:
        return iso(obj.created_at)

    @staticmethod
    def resolve_service_name(obj: Task) -> str:
        return obj.task_service.name


class ReleaseOut(Schema):
    kf_id: str
    name: str
    description: str
    notes: list[str]
    state: str
    studies: list[str]
    tasks: list[TaskOut]
    version: str
    created_at: str
    tags: list[str]
    author: str
    is_major: bool

    @staticmethod
    def resolve_notes(obj: Release, context: dict[str, Any]) -> list[str | None]:
        return [link(_request(context), "release-notes", n.kf_id) for n in obj.notes.all()]

    @staticmethod
    def resolve_studies(obj: Release) -> list[str]:
        return sorted(s.kf_id for s in obj.studies.all())

    @staticmethod
    def resolve_tasks(obj: Release) -> list[Task]:
        return sorted(obj.tasks.all(), key=lambda t: t.created_at, reverse=True)

    @staticmethod
    def resolve_created_at(obj: Release) -> str | None:
        return iso(obj.created_at)

    @staticmethod
    def resolve_tags(obj: Release) -> list[str]:
        return list(obj.tags or [])


class MessageOut(Schema):
    message: str


class StatusOut(Schema):
    status: str
    message: str | None = None


class TaskIn(Schema):
    release: str = Field(..., max_length=500)
    task_service: str = Field(..., max_length=500)
    state: str | None = Field(None, max_length=20)
    progress: Progress | None = None


class TaskPatch(Schema):
    state: str | None = Field(None, max_length=20)
    progress: Progress | None = Field(None)


class TaskServiceIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    author: str = Field(..., min_length=1, max_length=100)
    url: str = Field(..., min_length=1, max_length=200)
    enabled: StrictBool = True
    outbound_token: str = Field("", max_length=2000)


class TaskServicePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)
    author: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=200)
    enabled: StrictBool | None = None
    outbound_token: str | None = Field(None, max_length=2000)


class TaskServiceOut(Schema):
    kf_id: str
    name: str
    description: str
    last_ok_status: int
    author: str
    health_status: str
    url: str
    created_at: str
    enabled: bool
    # outbound_token is a secret: it is never part of any answer.

    @staticmethod
    def resolve_health_status(obj: TaskService) -> str:
        return "down" if obj.last_ok_status >= conf.HEALTH_DOWN_AFTER else "ok"

    @staticmethod
    def resolve_created_at(obj: TaskService) -> str | None:
        return iso(obj.created_at)


class TaskServiceCreatedOut(TaskServiceOut):
    inbound_token: str = Field(
        ..., description="Bearer token this service uses to PATCH its own tasks. Shown once."
    )


class NoteIn(Schema):
    description: str = Field("", max_length=5000)
    author: str = Field("admin", max_length=100)
    release: str = Field(..., max_length=500)
    study: str | None = Field(None, max_length=500)


class NotePatch(Schema):
    description: str | None = Field(None, max_length=5000)
    author: str | None = Field(None, max_length=100)
    release: str | None = Field(None, max_length=500)
    study: str | None = Field(None, max_length=500)


class NoteOut(Schema):
    kf_id: str
    description: str
    author: str
    created_at: str
    release: str
    study: str | None

    @staticmethod
    def resolve_created_at(obj: ReleaseNote) -> str | None:
        return iso(obj.created_at)

    @staticmethod
    def resolve_release(obj: ReleaseNote, context: dict[str, Any]) -> str | None:
        return link(_request(context), "releases", obj.release_id)

    @staticmethod
    def resolve_study(obj: ReleaseNote, context: dict[str, Any]) -> str | None:
        return link(_request(context), "studies", obj.study_id)


class EventIn(Schema):
    event_type: Literal["info", "warning", "error"] = "info"
    message: str = Field("", max_length=1000)
    release: str | None = Field(None, max_length=500)
    study: str | None = Field(None, max_length=500)
    task: str | None = Field(None, max_length=500)
    task_service: str | None = Field(None, max_length=500)


class EventPatch(Schema):
    event_type: Literal["info", "warning", "error"] | None = None
    message: str | None = Field(None, max_length=1000)


class EventOut(Schema):
    kf_id: str
    event_type: str
    message: str
    release: str | None
    task_service: str | None
    task: str | None
    created_at: str

    @staticmethod
    def resolve_release(obj: Event, context: dict[str, Any]) -> str | None:
        return link(_request(context), "releases", obj.release_id)

    @staticmethod
    def resolve_task_service(obj: Event, context: dict[str, Any]) -> str | None:
        return link(_request(context), "task-services", obj.task_service_id)

    @staticmethod
    def resolve_task(obj: Event, context: dict[str, Any]) -> str | None:
        return link(_request(context), "tasks", obj.task_id)

    @staticmethod
    def resolve_created_at(obj: Event) -> str | None:
        return iso(obj.created_at)


class StudyOut(Schema):
    kf_id: str
    name: str
    version: str | None
    visible: bool
    last_pub_version: str | None
    last_pub_date: str | None
    deleted: bool
    created_at: str | None

    # The version columns are annotations of selectors.studies(), absent on a bare Study.
    @staticmethod
    def resolve_version(obj: Study) -> str | None:
        return getattr(obj, "current_version", None)

    @staticmethod
    def resolve_last_pub_version(obj: Study) -> str | None:
        return getattr(obj, "last_pub_version", None)

    @staticmethod
    def resolve_last_pub_date(obj: Study) -> str | None:
        return iso(getattr(obj, "last_pub_date", None))

    @staticmethod
    def resolve_created_at(obj: Study) -> str | None:
        return iso(obj.created_at)


class SyncOut(Schema):
    status: str
    message: str
    new: int | None = None
    deleted: int | None = None


def _request(context: dict[str, Any]) -> HttpRequest:
    # ninja validates a view's answer with the request in the context.
    return context["request"]


def provided(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)
