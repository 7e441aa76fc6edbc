"""Request and response bodies of the releases family (field names of the original API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

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


class StudyOut(Schema):
    kf_id: str
    name: str
    version: str | None
    visible: bool
    last_pub_version: str | None
    last_pub_date: str | None
    deleted: bool
    created_at: str | None


class SyncOut(Schema):
    status: str
    message: str
    new: int | None = None
    deleted: int | None = None


def provided(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)
