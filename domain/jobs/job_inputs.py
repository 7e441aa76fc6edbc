"""A job's input (Data JSON) checked against its job type's manifest, and the resources the job
needs (specs/scale-and-flotilla.md A.11, A.12).

Data JSON: `{"files": {INPUT_NAME: [file id, …]}, "json": {INPUT_NAME: value}}`. Every name must
be one of the manifest's inputs; a required input must be given; a `multiple: false` file input
takes exactly one file; a json value must have the declared type.
"""

from __future__ import annotations

import math
from typing import Any

from domain.common.errors import InvalidInput
from domain.jobs.manifest import SeedManifest
from domain.jobs.models import ScaleFile

DATA_KEYS = frozenset({"files", "json"})
FILE_IDS_MAX = 10000
# Scale's minimums for the resources it knows (A.7).
MINIMUMS = {"cpus": 0.25, "mem": 128.0, "disk": 0.0, "sharedmem": 0.0}
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "array": (list,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "object": (dict,),
    "string": (str,),
}


def job_input_parse(data: Any, manifest: SeedManifest) -> tuple[dict[str, Any], float]:
    """The input as stored (both sections present) and its files' total size in MiB."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput("input must be a JSON object with `files` and `json`")
    unknown = sorted(set(data) - DATA_KEYS)
    if unknown:
        raise InvalidInput(f"input: {unknown[0]} is not one of files, json")
    files = _section(data, "files")
    values = _section(data, "json")
    size = _files_check(files, manifest)
    _json_check(values, manifest)
    return {"files": files, "json": values}, size


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    section = data.get(key, {})
    if not isinstance(section, dict):
        raise InvalidInput(f"input.{key} must be an object")
    return section


def _files_check(files: dict[str, Any], manifest: SeedManifest) -> float:
    declared = {spec["name"]: spec for spec in manifest.input_files}
    _names_check(files, declared, "files")
    size = 0.0
    for name, spec in declared.items():
        ids = files.get(name)
        if ids is None:
            if spec["required"]:
                raise InvalidInput(f"input.files: the required input {name} is missing")
            continue
        if not _is_id_list(ids):
            raise InvalidInput(f"input.files.{name} must be a list of file ids")
        if not ids and spec["required"]:
            raise InvalidInput(f"input.files: the required input {name} has no file")
        if len(ids) > 1 and not spec["multiple"]:
            raise InvalidInput(f"input.files.{name} takes one file, not {len(ids)}")
        size += _files_size(name, ids)
    return size


def _is_id_list(ids: Any) -> bool:
    return (
        isinstance(ids, list)
        and len(ids) <= FILE_IDS_MAX
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)
    )


def _files_size(name: str, ids: list[int]) -> float:
    found = dict(ScaleFile.objects.filter(pk__in=ids).values_list("pk", "file_size"))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"input.files.{name}: no file with id {missing[0]}")
    return sum(found.values()) / (1024 * 1024)


def _json_check(values: dict[str, Any], manifest: SeedManifest) -> None:
    declared = {spec["name"]: spec for spec in manifest.input_json}
    _names_check(values, declared, "json")
    for name, spec in declared.items():
        if name not in values:
            if spec["required"]:
                raise InvalidInput(f"input.json: the required input {name} is missing")
            continue
        value = values[name]
        kinds = JSON_TYPES[spec["type"]]
        is_bool = isinstance(value, bool)
        if not isinstance(value, kinds) or (is_bool and spec["type"] in ("integer", "number")):
            raise InvalidInput(f"input.json.{name} must be of type {spec['type']}")


def _names_check(given: dict[str, Any], declared: dict[str, Any], section: str) -> None:
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(sorted(declared)) or "none"
        raise InvalidInput(f"input.{section}: {unknown[0]} is not an input (inputs: {names})")


def job_resources(manifest: SeedManifest, input_mib: float) -> dict[str, float]:
    """What the job needs: the manifest's scalars raised to Scale's minimums, an input multiplier
    applied to the input size, disk at least the input size (A.11). Names are lower-cased."""
    needs = dict(MINIMUMS)
    for scalar in manifest.scalars:
        name = scalar["name"].lower()
        value = float(scalar["value"])
        if scalar.get("inputMultiplier"):
            value = float(math.ceil(scalar["inputMultiplier"] * input_mib + value))
        needs[name] = max(value, MINIMUMS.get(name, 0.0))
    needs["disk"] = max(needs["disk"], float(math.ceil(input_mib)))
    return needs
