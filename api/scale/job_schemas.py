"""Bodies of the jobs endpoints (the original's v6 field names): jobs, their executions, input
files, the cancel and requeue filters, the queue and the job types' statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt, StrictStr

from api.scale.schemas import AnyObject, ConfigurationDoc, JobTypeBaseOut, NotNull, Strict
from domain.jobs.job_selectors import job_latest_execution
from domain.jobs.models import Job, JobExecution, ScaleFile

Id = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
Ids = Annotated[list[Id], Field(max_length=10000)]
Names = Annotated[list[Annotated[StrictStr, Field(max_length=50)]], Field(max_length=1000)]
Priority = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
TimeText = Annotated[StrictStr, Field(max_length=64)]
StatusName = Literal["PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED"]
CategoryName = Literal["SYSTEM", "ALGORITHM", "DATA"]


class JobIn(Strict):
    job_type_id: Id
    input: AnyObject = Field(
        ..., description='Data JSON: {"files": {NAME: [file id]}, "json": {NAME: value}}'
    )
    configuration: ConfigurationDoc | NotNull = None


class JobTypeKey(Strict):
    name: Annotated[StrictStr, Field(max_length=50)]
    version: Annotated[StrictStr, Field(max_length=50)]


class JobFilterIn(Strict):
    started: TimeText | NotNull = None
    ended: TimeText | NotNull = None
    status: StatusName | NotNull = None
    job_ids: Ids | NotNull = None
    job_type_ids: Ids | NotNull = None
    job_types: Annotated[list[JobTypeKey], Field(max_length=1000)] | NotNull = None
    job_type_names: Names | NotNull = None
    batch_ids: Ids | NotNull = None
    recipe_ids: Ids | NotNull = None
    error_categories: Annotated[list[CategoryName], Field(max_length=3)] | NotNull = None
    error_ids: Ids | NotNull = None
    is_superseded: StrictBool | NotNull = None


class RequeueIn(JobFilterIn):
    priority: Priority | NotNull = None


class JobErrorOut(Schema):
    id: int
    name: str
    title: str
    description: str
    category: str
    is_builtin: bool
    should_be_retried: bool
    created: datetime
    last_modified: datetime


class RevisionRefOut(Schema):
    id: int
    revision_num: int


class NodeOut(Schema):
    hostname: str


def _node(host: str) -> dict[str, str] | None:
    return {"hostname": host} if host else None


class JobOut(Schema):
    id: int
    job_type: JobTypeBaseOut
    job_type_rev: RevisionRefOut
    status: str
    node: NodeOut | None
    error: JobErrorOut | None
    priority: int
    num_exes: int
    max_tries: int
    input_file_size: float
    is_superseded: bool
    superseded: datetime | None
    created: datetime
    queued: datetime | None
    started: datetime | None
    ended: datetime | None
    last_status_change: datetime | None
    last_modified: datetime

    @staticmethod
    def resolve_node(obj: Job) -> dict[str, str] | None:
        return _node(obj.node)


class ExecutionRefOut(Schema):
    id: int
    status: str
    exe_num: int
    created: datetime
    ended: datetime | None


class JobDetailsOut(JobOut):
    resources: AnyObject
    execution: ExecutionRefOut | None
    input: AnyObject
    output: AnyObject
    configuration: AnyObject
    recipe: AnyObject | None = None
    batch: AnyObject | None = None

    @staticmethod
    def resolve_execution(obj: Job) -> JobExecution | None:
        return job_latest_execution(job=obj)

    @staticmethod
    def resolve_resources(obj: Job) -> dict[str, Any]:
        return {"resources": obj.resources}


class JobRefOut(Schema):
    id: int


class JobExecutionOut(Schema):
    id: int
    status: str
    exe_num: int
    execution_id: str = Field(description="The execution (domain/executions) that ran it.")
    node: NodeOut | None
    error: JobErrorOut | None
    job: JobRefOut
    job_type: JobTypeBaseOut
    created: datetime
    queued: datetime | None
    started: datetime | None
    ended: datetime | None
    timeout: int

    @staticmethod
    def resolve_node(obj: JobExecution) -> dict[str, str] | None:
        return _node(_execution(obj).host)

    @staticmethod
    def resolve_job_type(obj: JobExecution) -> Any:
        return obj.job.job_type

    @staticmethod
    def resolve_queued(obj: JobExecution) -> datetime | None:
        return _execution(obj).queued_at

    @staticmethod
    def resolve_started(obj: JobExecution) -> datetime | None:
        return _execution(obj).started_at

    @staticmethod
    def resolve_timeout(obj: JobExecution) -> int:
        return _execution(obj).deadline_seconds


class JobExecutionDetailsOut(JobExecutionOut):
    resources: AnyObject
    output: AnyObject
    exit_code: int | None
    outcome: str

    @staticmethod
    def resolve_resources(obj: JobExecution) -> dict[str, Any]:
        return {"resources": obj.job.resources}

    @staticmethod
    def resolve_exit_code(obj: JobExecution) -> int | None:
        return _execution(obj).exit_code

    @staticmethod
    def resolve_outcome(obj: JobExecution) -> str:
        return _execution(obj).outcome


def _execution(obj: JobExecution) -> Any:
    from domain.executions.selectors import execution_get

    cached = getattr(obj, "_execution_row", None)
    if cached is None:
        cached = execution_get(execution_id=obj.execution_id)
        obj._execution_row = cached
    return cached


class WorkspaceRefOut(Schema):
    id: int
    name: str


class ScaleFileOut(Schema):
    id: int
    workspace: WorkspaceRefOut
    job: JobRefOut | None
    file_name: str
    file_path: str
    file_size: int
    media_type: str
    checksum: str = Field(description="sha256, hex.")
    url: str | None = Field(description="Under the workspace's base_url, when it has one.")
    job_exe_num: int | None
    job_output: str
    created: datetime
    last_modified: datetime

    @staticmethod
    def resolve_workspace(obj: ScaleFile) -> dict[str, Any]:
        return {"id": obj.workspace_id, "name": obj.workspace.name}

    @staticmethod
    def resolve_job(obj: ScaleFile) -> dict[str, int] | None:
        return {"id": obj.job_id} if obj.job_id else None

    @staticmethod
    def resolve_url(obj: ScaleFile) -> str | None:
        base = obj.workspace.base_url
        return f"{base.rstrip('/')}/{obj.file_path}" if base else None


class LogLineOut(Schema):
    message: str
    timestamp: datetime = Field(alias="@timestamp")
    scale_order_num: int
    scale_task: str
    scale_job_exe: str
    scale_node: str
    stream: str


class QueueStatusOut(Schema):
    job_type: JobTypeBaseOut
    count: int
    longest_queued: datetime
    highest_priority: int


class JobCountOut(Schema):
    status: str
    count: int
    most_recent: datetime
    category: str | None


class JobTypeStatusOut(Schema):
    job_type: JobTypeBaseOut
    job_counts: list[JobCountOut]


class JobTypePendingOut(Schema):
    job_type: JobTypeBaseOut
    count: int
    longest_pending: datetime


class JobTypeRunningOut(Schema):
    job_type: JobTypeBaseOut
    count: int
    longest_running: datetime


class JobTypeFailureOut(Schema):
    job_type: JobTypeBaseOut
    error: JobErrorOut
    count: int
    first_error: datetime
    last_error: datetime


class LoadOut(Schema):
    time: datetime
    pending_count: int
    queued_count: int
    running_count: int
