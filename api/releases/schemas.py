"""Request and response bodies of the releases family (field names of the original API).

The `*Out` schemas render model instances themselves (ninja's `resolve_<field>` methods): related
objects as absolute hyperlinks built from the request in the validation context, timestamps as
the original's UTC `Z` strings. Field order is the wire order.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Query, Schema
from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema

from api.releases.links import iso, link
from domain.releases import conf
from domain.releases.models import (
    Event,
    Release,
    ReleaseNote,
    Study,
    Task,
    TaskService,
    TaskState,
)

# The document says what the server accepts. The body patterns, enums and `minItems` below are
# the document's only (`json_schema_extra`, `WithJsonSchema`): the family's own checks keep the
# original's messages. A NUL, refused before any parsing (api/releases/screening.py), never
# reaches a schema.
NO_NUL = r"^[^\x00]*$"
_NO_NUL = {"pattern": NO_NUL}


def _ref_pattern(prefix: str) -> dict[str, str]:
    # A related object as its URL (…/releases/RE_…) or its bare kf_id (links.ref).
    return {"pattern": rf"^([^\x00]*/)?{prefix}_[0-9A-HJKMNP-TV-Z]{{8}}/?$"}


def text(default: Any = ..., **limits: Any) -> Any:
    return Field(default, json_schema_extra=_NO_NUL, **limits)


def ref_field(prefix: str, default: Any = ..., **limits: Any) -> Any:
    return Field(default, json_schema_extra=_ref_pattern(prefix), **limits)


# A path id: any other string is a 404, a NUL a 400.
KfId = Annotated[str, Path(pattern=NO_NUL)]


# A paginated view's parameters are declared as defaults (`kf_id: str = path_id()`), not with
# an alias: ninja resolves its annotations in the module of the pagination wrapper.
def path_id() -> Any:
    return Path(..., pattern=NO_NUL)


def filter_in() -> Any:
    """An optional query filter (free text; a NUL is a 400)."""
    return Query(None, pattern=NO_NUL)


def choice_in(values: list[str]) -> Any:
    """An optional query filter the view checks itself against `values`, with the original's
    message: the document lists them, and the empty value, which filters nothing (as the
    original's filter read `?state=`)."""
    param = Query(None)
    # ninja's Query() sets json_schema_extra itself; the enum is added to it afterwards.
    param.json_schema_extra = {**(param.json_schema_extra or {}), "enum": ["", *values]}
    return param


# A field that may be left out but not sent as null ("This field may not be null."): null stays
# out of the document, while validation lets it through to the family's own message.
# Its limits go inside the type (`Annotated[str, text(…)] | NotNull`): on the union, pydantic
# would apply them to the null too, and fail with a TypeError (a 500), not a validation error.
NotNull = SkipJsonSchema[None]

Tag = Annotated[str, Field(max_length=50, json_schema_extra=_NO_NUL)]
StudyId = Annotated[str, Field(max_length=11, json_schema_extra=_ref_pattern("SD"))]
# What the registration check (orchestrator/clients/task_service.url_problem) lets through.
_SERVICE_URL = {"format": "uri", "pattern": r"^https?://[^\x00\s?#@/]+(/[^\x00\s?#]*)?$"}
ServiceUrl = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=_SERVICE_URL)]
# At least one: the domain says so with the original's message.
Studies = Annotated[list[StudyId], Field(max_length=10000, json_schema_extra={"minItems": 1})]
# An int or a string such as "50%" (#115); the domain parses it. Strict, because pydantic would
# otherwise turn `true` into 1 before the domain could refuse it.
Progress = Annotated[
    StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=20)],
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": r"^\s*(-?0+|0*(100|[1-9]?[0-9]))\s*%?\s*$"},
            ],
            "description": "0 to 100, as a number or a string such as `50%`.",
        }
    ),
]
# Case and surrounding spaces do not matter; `pending` is a service's word for `initialized`.
TaskStateIn = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [*TaskState.values, "pending"]})
]


class Body(Schema):
    """A request body. Any other field is ignored, as the original did (a NUL in it too), and
    the document allows one."""


class ReleaseIn(Body):
    model_config = ConfigDict(json_schema_extra={"required": ["name", "studies"]})

    name: str = text(min_length=1, max_length=256)
    description: str = text("", max_length=5000)
    author: str = text("admin", max_length=100)
    tags: list[Tag] = Field(default_factory=list, max_length=500)
    studies: Studies = Field(default_factory=list)
    is_major: StrictBool = False


class ReleasePatch(Body):
    name: Annotated[str, text(min_length=1, max_length=256)] | NotNull = None
    description: Annotated[str, text(max_length=5000)] | NotNull = None
    author: Annotated[str, text(max_length=100)] | NotNull = None
    tags: Annotated[list[Tag], Field(max_length=500)] | NotNull = None
    studies: (
        Annotated[list[StudyId], Field(max_length=10000, json_schema_extra={"minItems": 1})]
        | NotNull
    ) = None
    is_major: StrictBool | NotNull = None


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


class TaskIn(Body):
    release: str = ref_field("RE", max_length=500)
    task_service: str = ref_field("TS", max_length=500)
    state: TaskStateIn | None = Field(None, max_length=20)
    progress: Progress | None = None


class TaskPatch(Body):
    state: Annotated[TaskStateIn, Field(max_length=20)] | NotNull = None
    progress: Progress | None = Field(None)


class TaskServiceIn(Body):
    name: str = text(min_length=1, max_length=100)
    description: str = text("", max_length=500)
    author: str = text(min_length=1, max_length=100)
    url: ServiceUrl
    enabled: StrictBool = True
    outbound_token: str = text("", max_length=2000)


class TaskServicePatch(Body):
    name: Annotated[str, text(min_length=1, max_length=100)] | NotNull = None
    description: Annotated[str, text(max_length=500)] | NotNull = None
    author: Annotated[str, text(min_length=1, max_length=100)] | NotNull = None
    url: (
        Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=_SERVICE_URL)]
        | NotNull
    ) = None
    enabled: StrictBool | NotNull = None
    # null: keep the stored token.
    outbound_token: str | None = text(None, max_length=2000)


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


class NoteIn(Body):
    description: str = text("", max_length=5000)
    author: str = text("admin", max_length=100)
    release: str = ref_field("RE", max_length=500)
    study: str | None = ref_field("SD", None, max_length=500)


class NotePatch(Body):
    description: Annotated[str, text(max_length=5000)] | NotNull = None
    author: Annotated[str, text(max_length=100)] | NotNull = None
    release: Annotated[str, ref_field("RE", max_length=500)] | NotNull = None
    study: str | None = ref_field("SD", None, max_length=500)


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


class EventIn(Body):
    event_type: Literal["info", "warning", "error"] = "info"
    message: str = text("", max_length=1000)
    release: str | None = ref_field("RE", None, max_length=500)
    study: str | None = ref_field("SD", None, max_length=500)
    task: str | None = ref_field("TA", None, max_length=500)
    task_service: str | None = ref_field("TS", None, max_length=500)


class EventPatch(Body):
    event_type: Literal["info", "warning", "error"] | NotNull = None
    message: Annotated[str, text(max_length=1000)] | NotNull = None


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
