"""Request and response bodies of the Flotilla family, with the original's field names.

Bodies in (`…In`) are decoded as Go decodes them (api/flotilla/decoding.py). Bodies out follow
the original's JSON: a run leaves out what it does not know (Go's `omitempty`), a definition
always carries its `env` list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from api.flotilla.decoding import Amount, Flag, GoBody, Int64, Name, Text, text
from domain.executions.services import MAX_DEADLINE_SECONDS
from domain.runs.models import CLUSTER_CAPABILITIES, ClusterStatus, Definition, Run, RunStatus

GROUP_NAME = r"^[a-zA-Z0-9_\-.]*$"
# An alias is part of a URL (/task/alias/{alias}).
ALIAS = r"^[^/\x00]*$"
ENV_NAME = r"^[^=\x00]*$"


class ErrorOut(Schema):
    error: str


# --- definitions ---------------------------------------------------------------------------------


class EnvVarIn(GoBody):
    name: text(300, ENV_NAME) | None = None
    value: Text | None = None


Env = Annotated[list[EnvVarIn], Field(max_length=1000)]
Ports = Annotated[list[Annotated[int, Field(strict=True, ge=1, le=65535)]], Field(max_length=100)]
Tags = Annotated[list[Annotated[Name, Field(min_length=1)]], Field(max_length=100)]


def env_pairs(env: list[EnvVarIn] | None) -> list[tuple[str, str]] | None:
    if env is None:
        return None
    return [(item.name or "", item.value or "") for item in env]


class DefinitionFields(GoBody):
    """What POST and PUT share; `definition_id` in a body is ignored, as the original did."""

    group_name: text(255, GROUP_NAME) | None = None
    command: Text | None = None
    task_type: text(64) | None = None
    requires_docker: Flag | None = None
    target_cluster: Name | None = None
    memory: Amount | None = None
    cpu: Amount | None = None
    gpu: Amount | None = None
    ephemeral_storage: Amount | None = None
    env: Env | None = None
    adaptive_resource_allocation: Flag | None = None
    ports: Ports | None = None
    tags: Tags | None = None


class DefinitionIn(DefinitionFields):
    alias: Annotated[text(255, ALIAS), Field(min_length=1)]
    image: Annotated[text(1024), Field(min_length=1)]


class DefinitionUpdateIn(DefinitionFields):
    """A missing, null or empty field keeps the stored value."""

    alias: text(255, ALIAS) | None = None
    image: text(1024) | None = None


class EnvVarOut(BaseModel):
    name: str
    value: str


class DefinitionOut(BaseModel):
    """A definition (plain pydantic: pages of a thousand validate as dicts, fast)."""

    definition_id: str
    group_name: str
    alias: str
    command: str
    task_type: str
    requires_docker: bool
    target_cluster: str
    image: str
    memory: int | None
    cpu: int | None
    gpu: int | None
    ephemeral_storage: int | None
    env: list[EnvVarOut]
    adaptive_resource_allocation: bool | None
    ports: list[int]
    tags: list[str]


def definition_json(definition: Definition) -> dict[str, Any]:
    return {
        **{name: getattr(definition, name) for name in DEFINITION_FIELDS},
        "tags": sorted(tag.text for tag in definition.tags.all()),
    }


DEFINITION_FIELDS = [name for name in DefinitionOut.model_fields if name != "tags"]


class DeletedOut(Schema):
    deleted: bool


# --- runs ----------------------------------------------------------------------------------------


class LaunchV1In(GoBody):
    """The legacy execute body (v1): the owner is recorded as `v1-unknown`."""

    cluster: Name | None = None
    env: Env | None = None
    tier: text(64) | None = None


def _required(*names: str) -> Any:
    # The document says what the view enforces itself (with the original's message).
    def extra(schema: dict) -> None:
        schema["required"] = sorted({*schema.get("required", []), *names})
        for name in names:
            prop = schema["properties"][name]
            if "anyOf" in prop:
                schema["properties"][name] = {
                    **{k: v for k, v in prop.items() if k != "anyOf"},
                    **next(s for s in prop["anyOf"] if s.get("type") != "null"),
                }
            schema["properties"][name].setdefault("minLength", 1)

    return extra


class RunTagsV2In(GoBody):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra=_required("owner_email", "team_name")
    )

    owner_email: Name | None = None
    team_name: Name | None = None
    owner_id: Name | None = None


class RunTagsIn(GoBody):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_required("owner_id"))

    owner_email: Name | None = None
    team_name: Name | None = None
    owner_id: Name | None = None


class LaunchFields(GoBody):
    cluster: Name | None = None
    env: Env | None = None
    command: Text | None = None
    memory: Amount | None = None
    cpu: Amount | None = None
    gpu: Amount | None = None
    ephemeral_storage: Amount | None = None
    engine: Annotated[Name, Field(json_schema_extra={"enum": ["eks", "ecs"]})] | None = None
    node_lifecycle: (
        Annotated[Name, Field(json_schema_extra={"enum": ["spot", "ondemand"]})] | None
    ) = None
    active_deadline_seconds: (
        Annotated[int, Field(strict=True, ge=1, le=MAX_DEADLINE_SECONDS)] | None
    ) = None
    spark_extension: Any = Field(
        None,
        description="Spark runs are not supported: must be absent or null.",
        json_schema_extra={"type": "null"},
    )
    description: Text | None = None
    command_hash: Name | None = Field(None, description="Ignored: the md5 of the command is used.")
    idempotence_key: Name | None = None
    arch: text(32) | None = None
    labels: Annotated[dict[Name, Name], Field(max_length=100)] | None = None
    service_account: Name | None = None
    tier: text(64) | None = None


class LaunchV2In(LaunchFields):
    """v2: `run_tags.owner_email` and `run_tags.team_name` are required; the owner is the email."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_required("run_tags"))

    run_tags: RunTagsV2In | None = None


class LaunchV4In(LaunchFields):
    """v4 and v6: `run_tags.owner_id` is required and is the run's owner."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_required("run_tags"))

    run_tags: RunTagsIn | None = None


class StatusIn(GoBody):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_required("status"))

    status: Annotated[Name, Field(json_schema_extra={"enum": RunStatus.values})] | None = None
    exit_code: Int64 | None = None
    run_exceptions: Annotated[list[Text], Field(max_length=1000)] | None = None
    exit_reason: Text | None = None


class InstanceOut(BaseModel):
    instance_id: str
    dns_name: str


class PodEventOut(BaseModel):
    timestamp: datetime | None = None
    event_type: str
    reason: str
    source_object: str
    message: str


class RecordsOut(BaseModel):
    Records: list[dict[str, Any]] = Field(default_factory=list)


class RunOut(BaseModel):
    """A run as the original renders it; a field it does not know is left out (omitempty).
    Plain pydantic, fed dicts by `run_json`: a page of a thousand runs validates fast."""

    run_id: str
    definition_id: str
    alias: str
    image: str
    cluster: str
    exit_code: int | None = None
    status: str
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    instance: InstanceOut
    group_name: str
    user: str | None = None
    token_name: str | None = None
    task_type: str | None = None
    env: list[EnvVarOut]
    command: str | None = None
    command_hash: str | None = None
    memory: int | None = None
    memory_limit: int | None = None
    cpu: int | None = None
    cpu_limit: int | None = None
    gpu: int | None = None
    exit_reason: str | None = None
    engine: str
    node_lifecycle: str | None = None
    ephemeral_storage: int | None = None
    pod_name: str | None = None
    namespace: str | None = None
    max_memory_used: int | None = None
    max_cpu_used: int | None = None
    pod_events: list[PodEventOut] | None = None
    cloudtrail_notifications: RecordsOut
    executable_id: str
    executable_type: str
    execution_request_custom: dict[str, Any]
    attempt_count: int
    spawned_runs: list[dict[str, str]]
    run_exceptions: list[str] | None = None
    active_deadline_seconds: int | None = None
    spark_extension: dict[str, Any]
    description: str | None = None
    idempotence_key: str | None = None
    arch: str | None = None
    labels: dict[str, str] | None = None
    requires_docker: bool
    service_account: str | None = None
    tier: str | None = None


# Copied as they are; an empty text is one the original leaves out (nil).
RUN_FIELDS = (
    "run_id",
    "definition_id",
    "alias",
    "image",
    "cluster",
    "exit_code",
    "status",
    "queued_at",
    "started_at",
    "finished_at",
    "group_name",
    "task_type",
    "env",
    "command",
    "memory",
    "memory_limit",
    "cpu",
    "cpu_limit",
    "gpu",
    "engine",
    "node_lifecycle",
    "ephemeral_storage",
    "max_memory_used",
    "max_cpu_used",
    "attempt_count",
    "run_exceptions",
    "active_deadline_seconds",
    "requires_docker",
    "tier",
)
RUN_TEXTS = (
    "user",
    "token_name",
    "command_hash",
    "exit_reason",
    "pod_name",
    "namespace",
    "idempotence_key",
    "arch",
    "service_account",
)


def run_json(run: Run, pod_events: list[dict] | None = None) -> dict[str, Any]:
    return {
        **{name: getattr(run, name) for name in RUN_FIELDS},
        **{name: getattr(run, name) or None for name in RUN_TEXTS},
        "instance": {"instance_id": run.instance, "dns_name": run.instance},
        "pod_events": pod_events,
        "cloudtrail_notifications": {"Records": []},
        "executable_id": run.definition_id,
        "executable_type": "task_definition",
        "execution_request_custom": {},
        "spawned_runs": [],
        "spark_extension": {},
        "description": run.description or run.alias,
        "labels": run.labels or None,
    }


class TerminatedOut(Schema):
    terminated: bool


class UpdatedOut(Schema):
    updated: bool


class RunStatusOut(BaseModel):
    """The v6 slim status."""

    run_id: str
    status: str
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    exit_reason: str | None = None
    engine: str
    definition_id: str
    alias: str
    cluster_name: str


def status_json(run: Run) -> dict[str, Any]:
    fields = ("run_id", "status", "queued_at", "started_at", "finished_at", "exit_code", "engine")
    return {
        **{name: getattr(run, name) for name in fields},
        "exit_reason": run.exit_reason or None,
        "definition_id": run.definition_id,
        "alias": run.alias,
        "cluster_name": run.cluster,
    }


class LogOut(Schema):
    log: str
    last_seen: str


class EventsOut(Schema):
    total: int
    pod_events: list[PodEventOut]


# --- clusters, metadata --------------------------------------------------------------------------

Capability = Annotated[Name, Field(json_schema_extra={"enum": list(CLUSTER_CAPABILITIES)})]
Tiers = Annotated[list[Annotated[text(64), Field(min_length=1)]], Field(max_length=100)]


class ClusterFields(GoBody):
    cluster_version: text(64) | None = None
    status: Annotated[Name, Field(json_schema_extra={"enum": ClusterStatus.values})] | None = None
    status_reason: Text | None = None
    allowed_tiers: Tiers | None = None
    capabilities: Annotated[list[Capability], Field(max_length=10)] | None = None
    namespace: Name | None = None
    region: text(64) | None = None
    emr_virtual_cluster: Name | None = None
    spark_server_uri: text(1024) | None = None


class ClusterIn(ClusterFields):
    name: Annotated[Name, Field(min_length=1)]


class ClusterUpdateIn(ClusterFields):
    name: Annotated[Name, Field(min_length=1)] | None = None


class ClusterOut(Schema):
    id: str
    name: str
    cluster_version: str
    status: str
    status_reason: str
    status_since: datetime
    allowed_tiers: list[str]
    capabilities: list[str]
    updated_at: datetime
    namespace: str
    region: str
    emr_virtual_cluster: str
    spark_server_uri: str


class CreatedOut(Schema):
    created: bool
    id: str


class ClusterUpdatedOut(Schema):
    updated: bool


class ClusterNamesOut(Schema):
    clusters: list[str]


class HealthOut(Schema):
    status: str
    message: str


class ListEcho(BaseModel):
    """A list page's echo of its request, beside `total`, the items, `limit` and `offset`:
    `sort_by`, `order`, `env_filters` and each column filter given, under its own name. (A
    plain pydantic model: ninja's Schema reads only its declared fields from a dict.)"""

    model_config = ConfigDict(extra="allow")
