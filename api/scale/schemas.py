"""Request and response bodies of the Scale family (field names of the original's v6 API).

The document embeds the JSON schemas the domain validates with (domain/jobs/schemas/), so it
states what a manifest and a configuration must be. Checks a schema cannot state (names that
collide, a workspace that does not exist, …) are the domain's 400s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from domain.jobs.job_types import DOCKER_IMAGE_MAX, MAX_SCHEDULED_MAX
from domain.jobs.jsonschemas import (
    JOB_CONFIGURATION,
    SEED_MANIFEST,
    WORKSPACE_CONFIGURATION,
    schema_load,
)
from domain.jobs.models import ICON_CODE_MAX, JobType, Workspace
from domain.jobs.selectors import workspace_configuration_shown


def _embedded(filename: str) -> dict[str, Any]:
    """A shipped draft-04 schema as an OpenAPI 3.1 schema: the same keywords, minus `$schema`
    and with its `#/definitions/…` references made local to where it is embedded."""
    schema = {k: v for k, v in schema_load(filename).items() if k != "$schema"}
    definitions = schema.pop("definitions", {})
    return _inline(schema, definitions)


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/definitions/"):
            return _inline(definitions[ref.rsplit("/", 1)[1]], definitions)
        return {k: _inline(v, definitions) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, definitions) for v in node]
    return node


ManifestDoc = Annotated[dict[str, Any], WithJsonSchema(_embedded(SEED_MANIFEST))]
ConfigurationDoc = Annotated[dict[str, Any], WithJsonSchema(_embedded(JOB_CONFIGURATION))]
WorkspaceConfigurationDoc = Annotated[
    dict[str, Any], WithJsonSchema(_embedded(WORKSPACE_CONFIGURATION))
]
AnyObject = dict[str, Any]

# A field that may be left out but not sent as null: null stays out of the document, and the
# view refuses it with its own message (api/scale/fields.py).
NotNull = SkipJsonSchema[None]
MaxScheduled = Annotated[StrictInt, Field(ge=0, le=MAX_SCHEDULED_MAX)]
IconCode = Annotated[StrictStr, Field(max_length=ICON_CODE_MAX)]
DockerImage = Annotated[StrictStr, Field(min_length=1, max_length=DOCKER_IMAGE_MAX)]
Text = Annotated[StrictStr, Field(max_length=5000)]
Url = Annotated[StrictStr, Field(max_length=2048)]


class Strict(BaseModel):
    """A body whose unknown fields are refused with the original's message (the view checks
    `model_extra`); the document says no other field is taken. A plain pydantic model: ninja's
    Schema reads its input through a wrapper that hides the extra fields."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


# --- job types ------------------------------------------------------------------------------------


class JobTypeIn(Strict):
    docker_image: DockerImage
    manifest: ManifestDoc
    configuration: ConfigurationDoc | NotNull = None
    icon_code: IconCode | None = None
    is_published: StrictBool | NotNull = None
    max_scheduled: MaxScheduled | None = None
    auto_update: StrictBool | NotNull = None
    is_active: StrictBool | NotNull = None
    is_paused: StrictBool | NotNull = None


class JobTypePatch(Strict):
    icon_code: IconCode | None = None
    is_published: StrictBool | NotNull = None
    is_active: StrictBool | NotNull = None
    is_paused: StrictBool | NotNull = None
    max_scheduled: MaxScheduled | None = Field(
        None, description="null: no limit (it may be reset to null)."
    )
    docker_image: DockerImage | NotNull = None
    manifest: ManifestDoc | NotNull = None
    configuration: ConfigurationDoc | NotNull = None
    auto_update: StrictBool | NotNull = None


class JobTypeValidationIn(Schema):
    manifest: AnyObject
    configuration: AnyObject | None = None


class ProblemOut(Schema):
    name: str
    description: str


class ValidationOut(Schema):
    is_valid: bool
    errors: list[ProblemOut]
    warnings: list[ProblemOut]


class JobTypeBaseOut(Schema):
    id: int
    name: str
    version: str
    title: str
    description: str
    is_active: bool
    is_system: bool
    is_paused: bool
    is_published: bool
    icon_code: str | None
    unmet_resources: str | None


class JobTypeOut(Schema):
    id: int
    name: str
    version: str
    title: str
    description: str
    icon_code: str | None
    is_published: bool
    is_active: bool
    is_paused: bool
    is_system: bool
    max_scheduled: int | None
    max_tries: int
    revision_num: int
    docker_image: str
    unmet_resources: str | None
    created: datetime
    deprecated: datetime | None
    paused: datetime | None
    last_modified: datetime


class JobTypeDetailsOut(JobTypeOut):
    manifest: AnyObject
    configuration: AnyObject
    recipe_types: list[AnyObject]

    @staticmethod
    def resolve_configuration(obj: JobType) -> dict[str, Any]:
        # Stored without `version` and without secret values (domain/jobs/configuration.py).
        return obj.configuration

    @staticmethod
    def resolve_recipe_types(obj: JobType) -> list[dict[str, Any]]:
        return []  # Recipes are not served yet: no recipe type contains a job type.


class JobTypeNameOut(Schema):
    name: str
    title: str
    description: str
    icon_code: str | None
    is_active: bool
    is_system: bool
    is_paused: bool
    is_published: bool
    unmet_resources: str | None
    versions: list[str]
    latest_version: str


class RevisionOut(Schema):
    id: int
    job_type: JobTypeBaseOut
    revision_num: int
    docker_image: str
    created: datetime


class RevisionDetailsOut(RevisionOut):
    manifest: AnyObject


# --- workspaces -----------------------------------------------------------------------------------

WorkspaceName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,50}$")]
# A workspace is named after its title: it needs a letter, a digit or `_` to be named by.
Title = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern="[A-Za-z0-9_]")]


class WorkspaceIn(Schema):
    title: Title
    configuration: WorkspaceConfigurationDoc
    name: WorkspaceName | NotNull = Field(
        None, description="Defaults to the title, lower case, with `-` between words."
    )
    description: Text | NotNull = None
    base_url: Url | None = None
    is_active: StrictBool | NotNull = None


class WorkspacePatch(Schema):
    title: Title | NotNull = None
    description: Text | NotNull = None
    base_url: Url | None = None
    is_active: StrictBool | NotNull = None
    configuration: WorkspaceConfigurationDoc | NotNull = None


class WorkspaceValidationIn(Schema):
    configuration: AnyObject
    name: StrictStr | None = Field(None, description="An existing workspace, to check an edit.")
    title: StrictStr | None = None
    description: StrictStr | None = None
    base_url: StrictStr | None = None
    is_active: StrictBool | None = None


class WorkspaceOut(Schema):
    id: int
    name: str
    title: str
    description: str
    base_url: str | None
    is_active: bool
    created: datetime
    deprecated: datetime | None
    last_modified: datetime


class WorkspaceDetailsOut(WorkspaceOut):
    configuration: AnyObject

    @staticmethod
    def resolve_configuration(obj: Workspace) -> dict[str, Any]:
        return workspace_configuration_shown(workspace=obj)


class DetailOut(Schema):
    """`{"detail": message}`: every refusal of the family."""

    detail: str
