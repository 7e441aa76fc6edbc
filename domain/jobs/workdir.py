"""A job's scratch directory on its host: inputs staged before the command, outputs collected
after it (the executions aggregate calls these through `owner_workdir("jobs.job")`, in the
supervisor on the host that runs the command).

    <scratch>/inputs/<INPUT_NAME>/<file name>   the input files, readable by the command
    <scratch>/outputs/                          OUTPUT_DIR, writable by the command

Collect runs once the command exited 0 and before the execution's end is recorded, so the owner
hook that ends the job reads what was found (JobExecution.output / output_error). Each output
file matches its manifest glob under OUTPUT_DIR; a symbolic link, or a file outside OUTPUT_DIR,
is never read (the command runs as another user: it must not make us copy what it cannot read).

An engine that runs neither step (kubernetes) learns from the same registration that a job
wants an `OUTPUT_DIR` and asks `job_secret_env` for its secret settings at launch.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from domain.executions.owners import WorkdirHooks, owner_workdir
from domain.jobs.configuration import output_workspace_name
from domain.jobs.files import file_store, workspace_named
from domain.jobs.manifest import SeedManifest, env_var_name
from domain.jobs.models import Job, JobExecution, ScaleFile
from domain.jobs.seed_env import INPUTS_DIR, OUTPUT_DIR, OUTPUTS_DIR
from domain.jobs.selectors import job_type_secrets
from domain.jobs.storage import storage_for

logger = logging.getLogger(__name__)
RESULTS_MANIFEST = "seed.outputs.json"
RESULTS_MANIFEST_MAX = 16 * 1024 * 1024


def _record(execution_id: str) -> JobExecution:
    return JobExecution.objects.select_related("job", "job__job_type", "job__job_type_rev").get(
        execution_id=execution_id
    )


def job_workdir_prepare(execution_id: str, workdir: Path) -> list[tuple[str, str]]:
    """Stage the inputs and make OUTPUT_DIR; the variables naming them and the secret settings."""
    record = _record(execution_id)
    job = record.job
    manifest = SeedManifest(job.job_type_rev.manifest)
    owner = workdir.stat()
    outputs = _directory(workdir / OUTPUTS_DIR, owner, mode=0o700)
    env = [(OUTPUT_DIR, str(outputs))]
    files = job.input.get("files", {})
    inputs = _directory(workdir / INPUTS_DIR, owner, mode=0o755)
    for spec in manifest.input_files:
        ids = files.get(spec["name"])
        if not ids:
            continue
        folder = _directory(inputs / spec["name"], owner, mode=0o755)
        paths = [_stage(file_id, folder) for file_id in ids]
        env.append((env_var_name(spec["name"]), str(folder if spec["multiple"] else paths[0])))
    return env + _secret_env(job, manifest)


def job_secret_env(execution_id: str) -> list[tuple[str, str]]:
    """The secret settings of the execution's job as variables (for an engine that runs no
    prepare step: it must not lose them, nor show them)."""
    job = _record(execution_id).job
    return _secret_env(job, SeedManifest(job.job_type_rev.manifest))


def _secret_env(job: Job, manifest: SeedManifest) -> list[tuple[str, str]]:
    secrets = job_type_secrets(job_type=job.job_type)
    return [
        (env_var_name(name), secrets[name])
        for name in sorted(manifest.secret_setting_names)
        if name in secrets
    ]


def _directory(path: Path, owner: os.stat_result, *, mode: int) -> Path:
    path.mkdir(mode=mode, exist_ok=True)
    os.chown(path, owner.st_uid, owner.st_gid)
    return path


def _stage(file_id: int, folder: Path) -> Path:
    scale_file = ScaleFile.objects.select_related("workspace").get(pk=file_id)
    target = folder / scale_file.file_name
    storage_for(scale_file.workspace).fetch(scale_file.file_path, target)
    target.chmod(0o644)
    return target


def job_workdir_collect(execution_id: str, workdir: Path) -> None:
    """Store the outputs of a command that exited 0 and note what was found."""
    record = _record(execution_id)
    manifest = SeedManifest(record.job.job_type_rev.manifest)
    outputs = (workdir / OUTPUTS_DIR).resolve()
    try:
        found = _matches(manifest, outputs)
        values = _json_outputs(manifest, outputs)
        files = {name: [_store(record, name, p) for p in paths] for name, paths in found.items()}
    except OutputProblem as problem:
        record.output_error = problem.name
        record.save(update_fields=["output_error"])
        return
    except Exception:
        # The store failed (a full disk, an unreachable bucket): a system error, retried.
        logger.exception("storing the outputs of execution %s failed", execution_id)
        record.output_error = "filesystem-io"
        record.save(update_fields=["output_error"])
        return
    record.output = {"files": files, "json": values}
    record.save(update_fields=["output"])


class OutputProblem(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _matches(manifest: SeedManifest, outputs: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for spec in manifest.output_files:
        paths = sorted(p for p in outputs.glob(spec["pattern"]) if _is_own_file(p, outputs))
        if not paths:
            if spec["required"]:
                raise OutputProblem("missing-required-output")
            continue
        if len(paths) > 1 and not spec["multiple"]:
            raise OutputProblem("unexpected-multiple-outputs")
        found[spec["name"]] = paths
    return found


def _is_own_file(path: Path, outputs: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    return path.resolve().is_relative_to(outputs)


def _json_outputs(manifest: SeedManifest, outputs: Path) -> dict[str, Any]:
    if not manifest.output_json:
        return {}
    document = _results_manifest(outputs / RESULTS_MANIFEST)
    values = {}
    for spec in manifest.output_json:
        key = spec.get("key") or spec["name"]
        if key in document:
            values[spec["name"]] = document[key]
        elif spec["required"]:
            raise OutputProblem("missing-required-output")
    return values


def _results_manifest(path: Path) -> dict[str, Any]:
    if not path.exists() and not path.is_symlink():
        return {}
    if not _is_own_file(path, path.parent) or path.stat().st_size > RESULTS_MANIFEST_MAX:
        raise OutputProblem("invalid-results-manifest")
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutputProblem("invalid-results-manifest") from exc
    if not isinstance(document, dict):
        raise OutputProblem("invalid-results-manifest")
    return document


def _store(record: JobExecution, output: str, path: Path) -> int:
    job = record.job
    spec = next(
        s for s in SeedManifest(job.job_type_rev.manifest).output_files if s["name"] == output
    )
    workspace = workspace_named(output_workspace_name(job.configuration, output))
    stored = file_store(
        workspace=workspace,
        source=path,
        path=f"jobs/{job.pk}/{record.exe_num}/{output}/{path.name}",
        media_type=spec.get("mediaType", ""),
        job=job,
        exe_num=record.exe_num,
        output=output,
    )
    return stored.pk


owner_workdir("jobs.job")(
    WorkdirHooks(
        prepare=job_workdir_prepare,
        collect=job_workdir_collect,
        writable=(OUTPUTS_DIR,),
        separate_stderr=True,
        output_env=OUTPUT_DIR,
        secret_env=job_secret_env,
    )
)
