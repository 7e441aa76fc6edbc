"""domain/jobs/manifest.py: the Seed specification's examples pass; a manifest breaking any rule
of the published schema, or any of Scale's own checks, is refused with the original's name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from domain.jobs.manifest import manifest_parse
from domain.jobs.problems import ManifestInvalid
from tests.domain.jobs.seeds import EXAMPLE_NAMES, complete, example


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_it_accepts_the_seed_specifications_examples(name):
    manifest = manifest_parse(example(name))
    assert manifest.name == example(name)["job"]["name"]


def test_it_fills_seeds_defaults_without_touching_the_callers_document():
    given = example("watermark")
    manifest = manifest_parse(given)
    assert manifest.input_files[0] == {
        "name": "INPUT_IMAGE",
        "required": True,
        "mediaTypes": [],
        "multiple": False,
        "partial": False,
    }
    assert manifest.output_files[0]["mediaType"] == "application/octet-stream"
    assert manifest.output_files[0]["required"] is True
    # An error's title defaults to its name, its category to `job`.
    assert manifest.errors[1] == {
        "code": 2,
        "name": "algorithm-failure",
        "title": "algorithm-failure",
        "category": "job",
    }
    assert "mediaTypes" not in given["job"]["interface"]["inputs"]["files"][0]


def test_it_reads_the_secret_settings():
    assert manifest_parse(example("complete")).secret_setting_names == {"DB_PASS"}


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation that sets `value` at a dotted path of the `complete` manifest."""

    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = copy.deepcopy(value)

    return mutate


def _drop(path: str) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return mutate


I = "job.interface"  # noqa: E741 (a path prefix)

# One manifest per rule of the published schema: (what it breaks, how).
SCHEMA_RULES: dict[str, Callable[[dict], None]] = {
    "an extra top-level field": _set("extra", 1),
    "errors at the root instead of under job": _set("errors", [{"code": 1, "name": "x"}]),
    "no seedVersion": _drop("seedVersion"),
    "a seedVersion other than 1.0.0": _set("seedVersion", "1.0.1"),
    "no job": _drop("job"),
    "an extra job field": _set("job.extra", 1),
    "no job name": _drop("job.name"),
    "no jobVersion": _drop("job.jobVersion"),
    "no packageVersion": _drop("job.packageVersion"),
    "no title": _drop("job.title"),
    "no description": _drop("job.description"),
    "no maintainer": _drop("job.maintainer"),
    "no timeout": _drop("job.timeout"),
    "a name with a space": _set("job.name", "my job"),
    "a name with an underscore": _set("job.name", "my_job"),
    "a name ending in a newline": _set("job.name", "my-job\n"),
    "a name that is a number": _set("job.name", 5),
    "a jobVersion with two parts": _set("job.jobVersion", "1.0"),
    "a jobVersion with a leading zero": _set("job.jobVersion", "01.0.0"),
    "a jobVersion ending in a newline": _set("job.jobVersion", "1.0.0\n"),
    "a packageVersion that is no SemVer": _set("job.packageVersion", "latest"),
    "a title that is no string": _set("job.title", ["t"]),
    "a description that is no string": _set("job.description", None),
    "tags that are no list": _set("job.tags", "a,b"),
    "a tag that is no string": _set("job.tags", [1]),
    "a maintainer without a name": _drop("job.maintainer.name"),
    "a maintainer without an email": _drop("job.maintainer.email"),
    "a maintainer with an extra field": _set("job.maintainer.twitter", "@x"),
    "a fractional timeout": _set("job.timeout", 1.5),
    "a timeout as a string": _set("job.timeout", "10"),
    "a timeout as a boolean": _set("job.timeout", True),
    "resources with an extra field": _set("job.resources.vector", []),
    "scalar resources that are no list": _set("job.resources.scalar", {}),
    "a scalar without a value": _drop("job.resources.scalar.0.value"),
    "a scalar without a name": _drop("job.resources.scalar.0.name"),
    "a scalar named with a dot": _set("job.resources.scalar.0.name", "cpu.count"),
    "a scalar value as a string": _set("job.resources.scalar.0.value", "1"),
    "an inputMultiplier as a string": _set("job.resources.scalar.3.inputMultiplier", "4"),
    "a scalar with an extra field": _set("job.resources.scalar.0.unit", "MiB"),
    "an interface with an extra field": _set(f"{I}.env", {}),
    "a command that is no string": _set(f"{I}.command", ["ls"]),
    "inputs with an extra field": _set(f"{I}.inputs.streams", []),
    "an input file without a name": _drop(f"{I}.inputs.files.0.name"),
    "an input file named with a space": _set(f"{I}.inputs.files.0.name", "IN FILE"),
    "an input file's required as a string": _set(f"{I}.inputs.files.0.required", "yes"),
    "an input file's mediaTypes as a string": _set(f"{I}.inputs.files.0.mediaTypes", "a/b"),
    "an input file's multiple as a number": _set(f"{I}.inputs.files.0.multiple", 1),
    "an input file's partial as a string": _set(f"{I}.inputs.files.0.partial", "true"),
    "an input file with an extra field": _set(f"{I}.inputs.files.0.size", 1),
    "an input json without a type": _drop(f"{I}.inputs.json.0.type"),
    "an input json of an unknown type": _set(f"{I}.inputs.json.0.type", "float"),
    "outputs with an extra field": _set(f"{I}.outputs.streams", []),
    "an output file without a pattern": _drop(f"{I}.outputs.files.0.pattern"),
    "an output file's mediaType as a list": _set(f"{I}.outputs.files.0.mediaType", ["a/b"]),
    "an output json without a type": _drop(f"{I}.outputs.json.0.type"),
    "an output json's key as a number": _set(f"{I}.outputs.json.0.key", 1),
    "a mount without a path": _drop(f"{I}.mounts.0.path"),
    "a mount of mode wo": _set(f"{I}.mounts.0.mode", "wo"),
    "a setting without a name": _drop(f"{I}.settings.0.name"),
    "a setting's secret as a string": _set(f"{I}.settings.2.secret", "true"),
    "errors that are no list": _set("job.errors", {}),
    "an error without a code": _drop("job.errors.0.code"),
    "an error code as a string": _set("job.errors.0.code", "1"),
    "a fractional error code": _set("job.errors.0.code", 1.5),
    "an error without a name": _drop("job.errors.0.name"),
    "an error named with a space": _set("job.errors.0.name", "bad input"),
    "an error of an unknown category": _set("job.errors.0.category", "system"),
    "an error with an extra field": _set("job.errors.0.retry", True),
}


@pytest.mark.parametrize("rule", SCHEMA_RULES)
def test_it_refuses_a_manifest_breaking_a_schema_rule(rule):
    manifest = complete()
    SCHEMA_RULES[rule](manifest)
    with pytest.raises(ManifestInvalid) as refused:
        manifest_parse(manifest)
    assert refused.value.problem.name == "JSON_VALIDATION_ERROR"


@pytest.mark.parametrize("document", [[], "manifest", None, 5])
def test_it_refuses_a_manifest_that_is_no_object(document):
    with pytest.raises(ManifestInvalid) as refused:
        manifest_parse(document)
    assert refused.value.problem.name == "JSON_VALIDATION_ERROR"


def test_it_refuses_a_manifest_nested_too_deeply_to_describe():
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    manifest = complete()
    manifest["job"]["tags"] = [deep]
    with pytest.raises(ManifestInvalid) as refused:
        manifest_parse(manifest)
    assert refused.value.problem.name == "JSON_VALIDATION_ERROR"


def _interface(**parts: Any) -> dict[str, Any]:
    return {"command": "run", **parts}


def _scalars(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return {"scalar": [{"name": n, "value": v} for n, v in pairs]}


# Scale's own checks, each with the original's error name: (manifest job keys, name).
SCALE_CHECKS: dict[str, tuple[dict[str, Any], str]] = {
    "a name longer than the column": ({"name": "a" * 51}, "JSON_VALIDATION_ERROR"),
    "a jobVersion longer than the column": (
        {"jobVersion": "1.0.0-" + "a" * 50},
        "JSON_VALIDATION_ERROR",
    ),
    "fractional gpus": ({"resources": _scalars(("gpus", 1.1))}, "INVALID_GPUS"),
    "a setting named OUTPUT_DIR": (
        {"interface": _interface(settings=[{"name": "OUTPUT_DIR"}])},
        "NAME_COLLISION_ERROR",
    ),
    "an input file and an input json that are one variable": (
        {
            "interface": _interface(
                inputs={
                    "files": [{"name": "input-a"}],
                    "json": [{"name": "INPUT_A", "type": "string"}],
                }
            )
        },
        "NAME_COLLISION_ERROR",
    ),
    "a setting and an input of one name": (
        {
            "interface": _interface(
                settings=[{"name": "DB_HOST"}], inputs={"files": [{"name": "DB_HOST"}]}
            )
        },
        "NAME_COLLISION_ERROR",
    ),
    "an input named like an allocated resource": (
        {
            "interface": _interface(inputs={"files": [{"name": "ALLOCATED_CPUS"}]}),
            "resources": _scalars(("cpus", 1)),
        },
        "NAME_COLLISION_ERROR",
    ),
    "two mounts of one name": (
        {
            "interface": _interface(
                mounts=[{"name": "M", "path": "/a"}, {"name": "M", "path": "/b"}]
            )
        },
        "DUPLICATE_MOUNT_NAMES",
    ),
    "two errors of one name": (
        {"errors": [{"code": 1, "name": "bad"}, {"code": 2, "name": "bad"}]},
        "DUPLICATE_ERROR_NAMES",
    ),
    "a relative mount path": (
        {"interface": _interface(mounts=[{"name": "M", "path": "data/in"}])},
        "INVALID_MOUNT_PATH",
    ),
    "a negative resource": ({"resources": _scalars(("mem", -1))}, "INVALID_RESOURCES"),
}


@pytest.mark.parametrize("check", SCALE_CHECKS)
def test_it_refuses_a_manifest_failing_a_scale_check_with_its_name(check):
    job, name = SCALE_CHECKS[check]
    with pytest.raises(ManifestInvalid) as refused:
        manifest_parse(example_with(job))
    assert refused.value.problem.name == name
    assert str(refused.value).startswith(f"Seed Manifest invalid: {name}: ")


def example_with(job: dict[str, Any]) -> dict[str, Any]:
    manifest = example("random-number")
    manifest["job"].update(job)
    return manifest


def test_it_accepts_whole_gpus_written_as_a_float():
    assert manifest_parse(example_with({"resources": _scalars(("gpus", 2.0))})).scalars


def test_it_runs_scales_checks_in_scales_order():
    # gpus before collisions, mount names before error names, error names before mount paths.
    both = {
        "resources": _scalars(("gpus", 0.5)),
        "interface": _interface(settings=[{"name": "OUTPUT_DIR"}]),
    }
    assert _refusal(both) == "INVALID_GPUS"
    mounts_and_errors = {
        "interface": _interface(mounts=[{"name": "M", "path": "x"}, {"name": "M", "path": "y"}]),
        "errors": [{"code": 1, "name": "e"}, {"code": 2, "name": "e"}],
    }
    assert _refusal(mounts_and_errors) == "DUPLICATE_MOUNT_NAMES"
    errors_and_paths = {
        "interface": _interface(mounts=[{"name": "M", "path": "relative"}]),
        "errors": [{"code": 1, "name": "e"}, {"code": 2, "name": "e"}],
    }
    assert _refusal(errors_and_paths) == "DUPLICATE_ERROR_NAMES"


def _refusal(job: dict[str, Any]) -> str:
    with pytest.raises(ManifestInvalid) as refused:
        manifest_parse(example_with(job))
    return refused.value.problem.name


def test_it_accepts_versions_with_prerelease_and_build_metadata():
    manifest = manifest_parse(example_with({"jobVersion": "1.0.0-rc.1+build.5"}))
    assert manifest.job_version == "1.0.0-rc.1+build.5"


def test_it_accepts_empty_outputs_and_missing_media_types():
    # The original answered 500 to these (#1604, #1649).
    job = {"interface": _interface(outputs={}, inputs={"files": [{"name": "IN"}]})}
    assert manifest_parse(example_with(job)).output_files == []
