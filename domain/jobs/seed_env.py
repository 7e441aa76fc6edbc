"""The Seed environment of a job (specs/scale-and-flotilla.md A.7 "Env var injection").

Two halves. What may sit in the execution row is built when the job is scheduled: json inputs,
non-secret settings and `ALLOCATED_<RESOURCE>`. What names paths in the scratch directory, or
must not be stored in clear, is added on the host just before the command starts
(domain/jobs/workdir.py): `OUTPUT_DIR`, the input files, the secret settings. On an engine with
no scratch directory on a Regatta host (kubernetes) there are no input files (it refuses jobs
that stage files), and the engine itself provides `OUTPUT_DIR` and hands over the secret
settings (WorkdirHooks.output_env and secret_env, docs/engines.md). The mounts the
configuration maps travel with the execution (domain/executions/mounts.py); each engine applies
them.

`${NAME}` in the manifest's command is expanded by the command's shell from this environment
(the local and docker engines run `bash -c` / `sh -c`), so a value is never spliced into the
command text.
"""

from __future__ import annotations

import json
from typing import Any

from domain.executions.mounts import Mount
from domain.jobs.configuration import job_mount
from domain.jobs.manifest import SeedManifest, env_var_name
from domain.jobs.models import Job

OUTPUT_DIR = "OUTPUT_DIR"
INPUTS_DIR = "inputs"
OUTPUTS_DIR = "outputs"


def job_environment(job: Job, manifest: SeedManifest) -> list[tuple[str, str]]:
    env: list[tuple[str, str]] = []
    values = job.input.get("json", {})
    for spec in manifest.input_json:
        if spec["name"] in values:
            env.append((env_var_name(spec["name"]), _as_text(values[spec["name"]])))
    settings = job.configuration.get("settings", {})
    for spec in manifest.settings:
        if not spec["secret"] and spec["name"] in settings:
            env.append((env_var_name(spec["name"]), str(settings[spec["name"]])))
    for name, amount in sorted(job.resources.items()):
        env.append((f"ALLOCATED_{env_var_name(name)}", _amount(amount)))
    return env


def job_mounts(job: Job, manifest: SeedManifest) -> tuple[Mount, ...]:
    """The manifest's mounts that the job's configuration maps, at the manifest's paths and
    modes. One the configuration leaves out is not mounted (validation warns MISSING_MOUNT)."""
    configured = job.configuration.get("mounts", {})
    return tuple(
        job_mount(spec["name"], spec["path"], configured[spec["name"]], mode=spec["mode"])
        for spec in manifest.mounts
        if spec["name"] in configured
    )


def input_stages_files(data: dict[str, Any], manifest: SeedManifest) -> bool:
    """Whether a job with this input (Data JSON as stored) has files to stage before its
    command or to collect after it (the results manifest, seed.outputs.json, is such a file)."""
    has_inputs = any(data.get("files", {}).values())
    return has_inputs or bool(manifest.output_files or manifest.output_json)


def _as_text(value: Any) -> str:
    # Strings as they are; arrays, objects, numbers and booleans as their JSON text.
    return value if isinstance(value, str) else json.dumps(value)


def _amount(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def execution_resources(job: Job) -> dict[str, float]:
    """What the execution asks its host for, in the executions aggregate's names."""
    needs = job.resources
    return {
        "cpus": float(needs.get("cpus", 0)),
        "mem_mb": int(needs.get("mem", 0)),
        "disk_mb": int(needs.get("disk", 0)),
        "gpus": int(needs.get("gpus", 0)),
    }
