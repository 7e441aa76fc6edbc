"""Job type configuration JSON (specs/scale-and-flotilla.md A.8), validated against its schema
(domain/jobs/schemas/job-configuration.schema.json) and then against a manifest, with the
original's error and warning names.

Versions "6" and "7" are read as they are; "2.0" is the same document under an older name.
A configuration is stored with all four sections filled and without `version`.

QUIRK fixed: a file output with no workspace (no `default`, no entry in `outputs`) was a 400
`MISSING_WORKSPACE` in the original. It is a warning here: such outputs go to the default
workspace (`SCALE_DEFAULT_WORKSPACE`), so a Seed manifest with file outputs registers with no
configuration at all.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any

from domain.executions.mounts import Mount, mount_refusal
from domain.jobs import conf
from domain.jobs.jsonschemas import JOB_CONFIGURATION, schema_violation
from domain.jobs.manifest import STANDARD_RESOURCES, SeedManifest
from domain.jobs.models import Workspace
from domain.jobs.problems import ConfigurationInvalid, Problem
from domain.jobs.workspaces import workspace_default_ensure

DEFAULT_PRIORITY = 100
# Which schema locations have a name of their own in the original.
_NAMED_LOCATIONS = {"version": "INVALID_VERSION", "priority": "INVALID_PRIORITY"}


def configuration_parse(document: Any, *, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid configuration with every section filled: field by field from `base` (the job
    type's, when a job brings its own configuration) or else from the defaults."""
    document = {} if document is None else document
    violation = schema_violation(JOB_CONFIGURATION, document)
    if violation is not None:
        name = _NAMED_LOCATIONS.get(violation.location.split(".")[0], "INVALID_CONFIGURATION")
        raise ConfigurationInvalid(name, f"Invalid configuration: {violation}")
    filled = _inherited(copy.deepcopy(document), base or _DEFAULTS)
    for mount in filled["mounts"].values():
        if mount["type"] == "volume":
            mount.setdefault("driver", "")
            mount.setdefault("driver_opts", {})
    return filled


_DEFAULTS: dict[str, Any] = {
    "mounts": {},
    "output_workspaces": {"default": "", "outputs": {}},
    "priority": DEFAULT_PRIORITY,
    "settings": {},
}


def _inherited(document: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """`document` over `base`, field by field (A.8): a job that sets one setting, mount or
    output workspace keeps the type's others; its `priority` and `output_workspaces.default`
    replace the type's only when given."""
    base = copy.deepcopy(base)
    workspaces = document.get("output_workspaces", {})
    base_workspaces = base["output_workspaces"]
    return {
        "mounts": {**base["mounts"], **document.get("mounts", {})},
        "output_workspaces": {
            "default": workspaces.get("default", base_workspaces.get("default", "")),
            "outputs": {**base_workspaces.get("outputs", {}), **workspaces.get("outputs", {})},
        },
        "priority": document.get("priority", base["priority"]),
        "settings": {**base["settings"], **document.get("settings", {})},
    }


def configuration_check(
    config: dict[str, Any], manifest: SeedManifest, *, stored_secrets: frozenset[str] = frozenset()
) -> list[Problem]:
    """Warnings about `config` for `manifest`; ConfigurationInvalid for what cannot run.
    `stored_secrets` names secret settings already in the secret store."""
    warnings = _mounts_check(config, manifest)
    warnings += _workspaces_check(config, manifest)
    warnings += _settings_check(config, manifest, stored_secrets)
    return warnings


def resources_check(manifest: SeedManifest) -> list[Problem]:
    return [
        Problem("NONSTANDARD_RESOURCE", f"Resource '{scalar['name']}' is not a standard resource")
        for scalar in manifest.scalars
        if scalar["name"].lower() not in STANDARD_RESOURCES
    ]


def _mounts_check(config: dict[str, Any], manifest: SeedManifest) -> list[Problem]:
    warnings = []
    declared = {m["name"] for m in manifest.mounts}
    for name, mount in config["mounts"].items():
        if mount["type"] == "host" and not posixpath.isabs(mount["host_path"]):
            raise ConfigurationInvalid(
                "HOST_ABSOLUTE_PATH", f"Host mount {name} must use an absolute host path"
            )
        _host_path_check(name, mount)
        if name not in declared:
            warnings.append(Problem("UNKNOWN_MOUNT", f"Unknown mount '{name}' ignored"))
    for name in missing_mounts(config, manifest):
        warnings.append(Problem("MISSING_MOUNT", f"Missing configuration for mount '{name}'"))
    return warnings


def missing_mounts(config: dict[str, Any], manifest: SeedManifest) -> list[str]:
    """The manifest's mounts `config` does not configure, by name: a warning at registration,
    `missing-mount` when a job is about to run (A.10)."""
    return sorted(m["name"] for m in manifest.mounts if m["name"] not in config.get("mounts", {}))


def missing_settings(
    config: dict[str, Any], manifest: SeedManifest, stored_secrets: frozenset[str]
) -> list[str]:
    """The manifest's settings with no value, in the manifest's order: a secret one counts as
    set when the secret store holds it (secrets never sit in a configuration). An empty value
    is no value: the schema refuses "", and a job would run with an empty variable."""
    values = config.get("settings", {})
    return [
        s["name"]
        for s in manifest.settings
        if not values.get(s["name"]) and s["name"] not in stored_secrets
    ]


def _host_path_check(name: str, mount: dict[str, Any]) -> None:
    """A host directory (a host mount, or a volume of docker's local driver that binds one)
    must lie under EXECUTIONS_HOST_MOUNT_ROOTS: the job's command is attacker input."""
    reason = mount_refusal(job_mount(name, "/", mount))
    if reason is not None:
        raise ConfigurationInvalid("HOST_MOUNT_NOT_ALLOWED", reason)


def job_mount(name: str, path: str, mount: dict[str, Any], *, mode: str = "ro") -> Mount:
    """A configured mount as the executions aggregate carries it, seen at `path`."""
    if mount["type"] == "host":
        return Mount(name=name, path=path, read_only=mode != "rw", host_path=mount["host_path"])
    return Mount(
        name=name,
        path=path,
        read_only=mode != "rw",
        kind="volume",
        driver=mount.get("driver", ""),
        driver_opts=dict(mount.get("driver_opts", {})),
    )


def _workspaces_check(config: dict[str, Any], manifest: SeedManifest) -> list[Problem]:
    warnings = []
    chosen = config["output_workspaces"]
    names = {n for n in [chosen["default"], *chosen["outputs"].values()] if n}
    if conf.default_workspace_name() in names:
        workspace_default_ensure()
    found = {w.name: w for w in Workspace.objects.filter(name__in=names)}
    for name in sorted(names):
        if name not in found:
            raise ConfigurationInvalid("INVALID_WORKSPACE", f"No workspace named '{name}'")
        if not found[name].is_active:
            warnings.append(Problem("DEPRECATED_WORKSPACE", f"Workspace '{name}' is deprecated"))
    if not chosen["default"]:
        fallback = conf.default_workspace_name()
        for output in manifest.output_files:
            if output["name"] not in chosen["outputs"]:
                warnings.append(
                    Problem(
                        "MISSING_WORKSPACE",
                        f"Missing workspace for output '{output['name']}': "
                        f"the default workspace '{fallback}' is used",
                    )
                )
    return warnings


def _settings_check(
    config: dict[str, Any], manifest: SeedManifest, stored_secrets: frozenset[str]
) -> list[Problem]:
    warnings = []
    declared = [s["name"] for s in manifest.settings]
    for name in config["settings"]:
        if name not in declared:
            warnings.append(Problem("UNKNOWN_SETTING", f"Unknown setting '{name}' ignored"))
    for name in missing_settings(config, manifest, stored_secrets):
        warnings.append(Problem("MISSING_SETTING", f"Missing configuration for setting '{name}'"))
    return warnings


def secrets_split(config: dict[str, Any], manifest: SeedManifest) -> tuple[dict, dict[str, str]]:
    """(the configuration without secret values, the secret values): secrets are never stored
    in the configuration."""
    public = copy.deepcopy(config)
    secret = {
        name: public["settings"].pop(name)
        for name in sorted(manifest.secret_setting_names)
        if name in public["settings"]
    }
    return public, secret


def output_workspace_name(config: dict[str, Any], output: str) -> str:
    """The workspace an output file goes to: its own, else the configuration's default, else
    the install's default workspace."""
    chosen = config.get("output_workspaces", {})
    return (
        chosen.get("outputs", {}).get(output)
        or chosen.get("default")
        or conf.default_workspace_name()
    )
