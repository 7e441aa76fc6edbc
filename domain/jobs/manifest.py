"""Seed manifests 1.0 (specs/scale-and-flotilla.md A.7): the published schema first, then
Scale's own checks in Scale's order, each refusing with the original's error name:

    schema (JSON_VALIDATION_ERROR; name pattern and SemVer versions are the schema's)
    → lengths the database holds (JSON_VALIDATION_ERROR)
    → whole-number gpus (INVALID_GPUS)
    → environment-variable collisions (NAME_COLLISION_ERROR)
    → mount names (DUPLICATE_MOUNT_NAMES) → error names (DUPLICATE_ERROR_NAMES)
    → absolute mount paths (INVALID_MOUNT_PATH) → resource values (INVALID_RESOURCES)

A manifest that passes is returned with Seed's defaults filled in, as it is stored.
"""

from __future__ import annotations

import copy
import math
import posixpath
from collections.abc import Iterator
from typing import Any

from domain.jobs.jsonschemas import SEED_MANIFEST, schema_violation
from domain.jobs.models import NAME_MAX, VERSION_MAX
from domain.jobs.problems import ManifestInvalid

JSON_VALIDATION_ERROR = "JSON_VALIDATION_ERROR"
UNKNOWN_MEDIA_TYPE = "application/octet-stream"
# Scalar resources Scale knows; any other name is a NONSTANDARD_RESOURCE warning.
STANDARD_RESOURCES = frozenset({"cpus", "mem", "disk", "gpus", "sharedmem"})


def env_var_name(name: str) -> str:
    """How Seed injects a name as an environment variable: upper case, `-` as `_`."""
    return name.upper().replace("-", "_")


class SeedManifest:
    """A valid manifest with its defaults filled in, and the parts Scale reads."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    @property
    def job(self) -> dict[str, Any]:
        return self.document["job"]

    @property
    def name(self) -> str:
        return self.job["name"]

    @property
    def job_version(self) -> str:
        return self.job["jobVersion"]

    @property
    def title(self) -> str:
        return self.job["title"]

    @property
    def description(self) -> str:
        return self.job["description"]

    @property
    def tags(self) -> list[str]:
        return list(self.job.get("tags", []))

    @property
    def interface(self) -> dict[str, Any]:
        return self.job.get("interface", {})

    def _section(self, part: str, kind: str) -> list[dict[str, Any]]:
        return self.interface.get(part, {}).get(kind, [])

    @property
    def input_files(self) -> list[dict[str, Any]]:
        return self._section("inputs", "files")

    @property
    def input_json(self) -> list[dict[str, Any]]:
        return self._section("inputs", "json")

    @property
    def output_files(self) -> list[dict[str, Any]]:
        return self._section("outputs", "files")

    @property
    def output_json(self) -> list[dict[str, Any]]:
        return self._section("outputs", "json")

    @property
    def mounts(self) -> list[dict[str, Any]]:
        return self.interface.get("mounts", [])

    @property
    def settings(self) -> list[dict[str, Any]]:
        return self.interface.get("settings", [])

    @property
    def secret_setting_names(self) -> frozenset[str]:
        return frozenset(s["name"] for s in self.settings if s["secret"])

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.job.get("errors", [])

    @property
    def scalars(self) -> list[dict[str, Any]]:
        return self.job.get("resources", {}).get("scalar", [])


def manifest_parse(document: Any) -> SeedManifest:
    """Validate a Seed manifest; ManifestInvalid names the first check it fails."""
    violation = schema_violation(SEED_MANIFEST, document)
    if violation is not None:
        raise ManifestInvalid(
            JSON_VALIDATION_ERROR, f"Error validating against schema: {violation}"
        )
    manifest = SeedManifest(_with_defaults(document))
    for check in _SCALE_CHECKS:
        check(manifest)
    return manifest


def _check_lengths(manifest: SeedManifest) -> None:
    limits = (
        ("job.name", manifest.name, NAME_MAX),
        ("job.jobVersion", manifest.job_version, VERSION_MAX),
    )
    for where, value, limit in limits:
        if len(value) > limit:
            raise ManifestInvalid(
                JSON_VALIDATION_ERROR, f"{where} is longer than {limit} characters"
            )


def _check_gpus(manifest: SeedManifest) -> None:
    for scalar in manifest.scalars:
        value = scalar["value"]
        if scalar["name"].lower() == "gpus" and not (math.isfinite(value) and value == int(value)):
            raise ManifestInvalid("INVALID_GPUS", f"gpus must be a whole number, not {value}")


def _check_name_collisions(manifest: SeedManifest) -> None:
    # Every one of these becomes an environment variable of the job's process (A.7).
    names = ["OUTPUT_DIR"]
    names += [env_var_name(s["name"]) for s in manifest.settings]
    names += [env_var_name(i["name"]) for i in manifest.input_files + manifest.input_json]
    names += [env_var_name("ALLOCATED_" + r["name"]) for r in manifest.scalars]
    taken = _duplicates(names)
    if taken:
        raise ManifestInvalid(
            "NAME_COLLISION_ERROR",
            "Collisions are not allowed between reserved keywords, resources, settings and "
            f"input names: {', '.join(taken)}",
        )


def _check_mount_names(manifest: SeedManifest) -> None:
    taken = _duplicates(m["name"] for m in manifest.mounts)
    if taken:
        raise ManifestInvalid(
            "DUPLICATE_MOUNT_NAMES", f"Mount names must be unique: {', '.join(taken)}"
        )


def _check_error_names(manifest: SeedManifest) -> None:
    taken = _duplicates(e["name"] for e in manifest.errors)
    if taken:
        raise ManifestInvalid(
            "DUPLICATE_ERROR_NAMES", f"Error names must be unique: {', '.join(taken)}"
        )


def _check_mount_paths(manifest: SeedManifest) -> None:
    for mount in manifest.mounts:
        if not posixpath.isabs(mount["path"]):
            raise ManifestInvalid(
                "INVALID_MOUNT_PATH", f"{mount['name']} mount must have an absolute path"
            )


def _check_resources(manifest: SeedManifest) -> None:
    for scalar in manifest.scalars:
        for key in ("value", "inputMultiplier"):
            value = scalar.get(key, 0)
            if not math.isfinite(value) or value < 0:
                raise ManifestInvalid(
                    "INVALID_RESOURCES",
                    f"resource {scalar['name']}: {key} must be a finite number of at least 0",
                )


_SCALE_CHECKS = (
    _check_lengths,
    _check_gpus,
    _check_name_collisions,
    _check_mount_names,
    _check_error_names,
    _check_mount_paths,
    _check_resources,
)


def _duplicates(names: Any) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


# --- Seed's defaults ------------------------------------------------------------------------------

_DEFAULTS: dict[tuple[str, ...], dict[str, Any]] = {
    ("interface", "inputs", "files"): {
        "required": True,
        "mediaTypes": [],
        "multiple": False,
        "partial": False,
    },
    ("interface", "inputs", "json"): {"required": True},
    ("interface", "outputs", "files"): {
        "mediaType": UNKNOWN_MEDIA_TYPE,
        "multiple": False,
        "required": True,
    },
    ("interface", "outputs", "json"): {"required": True},
    ("interface", "mounts"): {"mode": "ro"},
    ("interface", "settings"): {"secret": False},
}


def _with_defaults(document: dict[str, Any]) -> dict[str, Any]:
    filled = copy.deepcopy(document)
    job = filled["job"]
    for path, defaults in _DEFAULTS.items():
        for item in _items_at(job, path):
            for key, value in defaults.items():
                item.setdefault(key, copy.deepcopy(value))
    for error in job.get("errors", []):
        error.setdefault("category", "job")
        error.setdefault("title", error["name"])
    return filled


def _items_at(job: dict[str, Any], path: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    node: Any = job
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    yield from node if isinstance(node, list) else ()
