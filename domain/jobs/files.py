"""Where a file enters the `files` table: stored in its workspace, then recorded with its size,
media type and checksum (and the job execution that produced it, for an output)."""

from __future__ import annotations

from pathlib import Path

from domain.common.errors import InvalidInput
from domain.jobs.models import Job, ScaleFile, Workspace
from domain.jobs.storage import file_checksum, safe_relative, storage_for
from domain.jobs.workspaces import workspace_default_ensure


def file_store(
    *,
    workspace: Workspace,
    source: Path,
    path: str,
    media_type: str = "",
    job: Job | None = None,
    exe_num: int | None = None,
    output: str = "",
) -> ScaleFile:
    """Copy `source` into `workspace` at `path` and record it."""
    if not workspace.is_active:
        raise InvalidInput(f"workspace {workspace.name} is not active")
    relative = safe_relative(path)
    storage_for(workspace).put(source, relative)
    return ScaleFile.objects.create(
        workspace=workspace,
        file_name=Path(relative).name,
        file_path=relative,
        file_size=source.stat().st_size,
        media_type=media_type,
        checksum=file_checksum(source),
        job=job,
        job_exe_num=exe_num,
        job_output=output,
    )


def workspace_named(name: str) -> Workspace:
    """The workspace an output goes to; the install's default one is made on first use."""
    workspace = Workspace.objects.filter(name=name).first()
    if workspace is None:
        workspace = workspace_default_ensure()
        if workspace.name != name:
            raise InvalidInput(f"no workspace named {name!r}")
    return workspace
