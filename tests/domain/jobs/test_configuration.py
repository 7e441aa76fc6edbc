"""domain/jobs/configuration.py: the configuration JSON against its schema, then against a
manifest, with the original's error and warning names."""

from __future__ import annotations

from typing import Any

import pytest

from domain.jobs.configuration import (
    configuration_check,
    configuration_parse,
    output_workspace_name,
    secrets_split,
)
from domain.jobs.manifest import manifest_parse
from domain.jobs.models import Workspace
from domain.jobs.problems import ConfigurationInvalid
from domain.jobs.workspaces import workspace_create
from tests.domain.jobs.seeds import example

HOST = {"broker": {"type": "host", "host_path": "/srv/files"}}


def test_it_fills_every_section_of_an_empty_configuration():
    assert configuration_parse(None) == {
        "mounts": {},
        "output_workspaces": {"default": "", "outputs": {}},
        "priority": 100,
        "settings": {},
    }


@pytest.mark.parametrize("version", ["6", "7", "2.0"])
def test_it_reads_versions_6_and_7_and_maps_2_0(version):
    config = configuration_parse({"version": version, "priority": 5})
    assert config["priority"] == 5
    assert "version" not in config


def test_it_takes_missing_sections_from_a_base_configuration():
    base = configuration_parse({"priority": 7, "settings": {"A": "b"}})
    assert configuration_parse({"priority": 3}, base=base)["settings"] == {"A": "b"}


def test_it_inherits_field_by_field_within_each_section():
    base = configuration_parse(
        {
            "priority": 7,
            "settings": {"A": "type-a", "B": "type-b"},
            "mounts": {"M1": {"type": "host", "host_path": "/m1"}, "M2": {"type": "volume"}},
            "output_workspaces": {"default": "wide", "outputs": {"X": "x-ws", "Y": "y-ws"}},
        }
    )
    job = configuration_parse(
        {
            "settings": {"B": "job-b"},
            "mounts": {"M2": {"type": "host", "host_path": "/m2"}},
            "output_workspaces": {"outputs": {"Y": "job-y"}},
        },
        base=base,
    )
    assert job["settings"] == {"A": "type-a", "B": "job-b"}
    assert job["mounts"] == {
        "M1": {"type": "host", "host_path": "/m1"},
        "M2": {"type": "host", "host_path": "/m2"},
    }
    assert job["output_workspaces"] == {"default": "wide", "outputs": {"X": "x-ws", "Y": "job-y"}}
    assert job["priority"] == 7
    # The base is the type's stored configuration: a job's merge never writes into it.
    assert base["settings"] == {"A": "type-a", "B": "type-b"}
    assert base["output_workspaces"]["outputs"] == {"X": "x-ws", "Y": "y-ws"}


def test_a_jobs_default_workspace_and_priority_replace_the_types():
    base = configuration_parse({"priority": 7, "output_workspaces": {"default": "wide"}})
    job = configuration_parse({"priority": 2, "output_workspaces": {"default": "mine"}}, base=base)
    assert (job["priority"], job["output_workspaces"]["default"]) == (2, "mine")


REFUSED: dict[str, tuple[Any, str]] = {
    "an unknown version": ({"version": "5"}, "INVALID_VERSION"),
    "priority 0": ({"priority": 0}, "INVALID_PRIORITY"),
    "a priority as a string": ({"priority": "high"}, "INVALID_PRIORITY"),
    "a priority past 32 bits": ({"priority": 2**31}, "INVALID_PRIORITY"),
    "an unknown section": ({"queue": "fast"}, "INVALID_CONFIGURATION"),
    "an empty setting value": ({"settings": {"A": ""}}, "INVALID_CONFIGURATION"),
    "a setting value that is a number": ({"settings": {"A": 5}}, "INVALID_CONFIGURATION"),
    "an nfs mount": ({"mounts": {"M": {"type": "nfs", "path": "/x"}}}, "INVALID_CONFIGURATION"),
    "a host mount without a path": ({"mounts": {"M": {"type": "host"}}}, "INVALID_CONFIGURATION"),
    "a volume mount with a host path": (
        {"mounts": {"M": {"type": "volume", "host_path": "/x"}}},
        "INVALID_CONFIGURATION",
    ),
    "an output workspace that is no string": (
        {"output_workspaces": {"default": 3}},
        "INVALID_CONFIGURATION",
    ),
    "a configuration that is a list": ([], "INVALID_CONFIGURATION"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_it_refuses_a_configuration_breaking_its_schema_with_the_originals_name(case):
    document, name = REFUSED[case]
    with pytest.raises(ConfigurationInvalid) as refused:
        configuration_parse(document)
    assert refused.value.problem.name == name


def _names(problems) -> list[str]:
    return [p.name for p in problems]


@pytest.mark.django_db
def test_it_warns_of_each_mount_and_setting_the_manifest_has_and_the_configuration_lacks():
    manifest = manifest_parse(example("complete"))
    warnings = configuration_check(configuration_parse({}), manifest)
    assert _names(warnings).count("MISSING_MOUNT") == 2
    assert _names(warnings).count("MISSING_SETTING") == 3
    # File outputs without a workspace go to the default one: a warning, not an error.
    assert _names(warnings).count("MISSING_WORKSPACE") == 2


@pytest.mark.django_db
def test_it_warns_of_a_setting_or_mount_the_manifest_does_not_have(monkeypatch):
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", "/m")
    manifest = manifest_parse(example("random-number"))
    config = configuration_parse(
        {"settings": {"EXTRA": "x"}, "mounts": {"M": {"type": "host", "host_path": "/m"}}}
    )
    assert _names(configuration_check(config, manifest)) == ["UNKNOWN_MOUNT", "UNKNOWN_SETTING"]


@pytest.mark.django_db
def test_it_counts_a_stored_secret_as_configured():
    manifest = manifest_parse(example("complete"))
    config = configuration_parse({"settings": {"VERSION": "1", "DB_HOST": "db"}})
    assert "MISSING_SETTING" in _names(configuration_check(config, manifest))
    stored = frozenset({"DB_PASS"})
    assert "MISSING_SETTING" not in _names(
        configuration_check(config, manifest, stored_secrets=stored)
    )


@pytest.mark.django_db
def test_it_refuses_a_workspace_that_does_not_exist():
    manifest = manifest_parse(example("watermark"))
    config = configuration_parse({"output_workspaces": {"default": "nowhere"}})
    with pytest.raises(ConfigurationInvalid) as refused:
        configuration_check(config, manifest)
    assert refused.value.problem.name == "INVALID_WORKSPACE"


@pytest.mark.django_db
def test_it_warns_of_a_deprecated_workspace():
    workspace_create(title="Old products", configuration=HOST, is_active=False)
    manifest = manifest_parse(example("watermark"))
    config = configuration_parse({"output_workspaces": {"default": "old-products"}})
    assert _names(configuration_check(config, manifest)) == ["DEPRECATED_WORKSPACE"]


@pytest.mark.django_db
def test_it_accepts_a_workspace_per_output_instead_of_a_default():
    workspace_create(title="Images", configuration=HOST)
    manifest = manifest_parse(example("watermark"))
    config = configuration_parse({"output_workspaces": {"outputs": {"OUTPUT_IMAGE": "images"}}})
    assert configuration_check(config, manifest) == []
    assert output_workspace_name(config, "OUTPUT_IMAGE") == "images"


@pytest.mark.django_db
def test_it_creates_the_default_workspace_when_a_configuration_names_it(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    manifest = manifest_parse(example("watermark"))
    config = configuration_parse({"output_workspaces": {"default": "default"}})
    assert configuration_check(config, manifest) == []
    assert Workspace.objects.filter(name="default").exists()
    assert (tmp_path / "workspaces" / "default").is_dir()
    assert output_workspace_name(configuration_parse({}), "OUTPUT_IMAGE") == "default"


def test_it_refuses_a_relative_host_mount_path():
    manifest = manifest_parse(example("complete"))
    config = configuration_parse({"mounts": {"MOUNT_PATH": {"type": "host", "host_path": "rel"}}})
    with pytest.raises(ConfigurationInvalid) as refused:
        configuration_check(config, manifest)
    assert refused.value.problem.name == "HOST_ABSOLUTE_PATH"


def test_it_splits_secret_settings_out_of_the_configuration():
    manifest = manifest_parse(example("complete"))
    config = configuration_parse({"settings": {"DB_HOST": "db", "DB_PASS": "hunter2"}})
    public, secret = secrets_split(config, manifest)
    assert public["settings"] == {"DB_HOST": "db"}
    assert secret == {"DB_PASS": "hunter2"}
    assert config["settings"]["DB_PASS"] == "hunter2"  # the caller's copy is untouched


def _mount_refusal(mount: dict) -> ConfigurationInvalid:
    manifest = manifest_parse(example("complete"))
    config = configuration_parse({"mounts": {"MOUNT_PATH": mount}})
    with pytest.raises(ConfigurationInvalid) as refused:
        configuration_check(config, manifest)
    return refused.value


def test_it_refuses_every_host_mount_while_no_root_is_allowed(monkeypatch):
    monkeypatch.delenv("EXECUTIONS_HOST_MOUNT_ROOTS", raising=False)
    refused = _mount_refusal({"type": "host", "host_path": "/srv/refs"})
    assert refused.problem.name == "HOST_MOUNT_NOT_ALLOWED"
    assert "no host mounts allowed" in refused.problem.description


@pytest.mark.django_db
def test_it_accepts_a_host_mount_under_an_allowed_root(monkeypatch, tmp_path):
    (tmp_path / "refs").mkdir()
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", f"/nowhere:{tmp_path}")
    manifest = manifest_parse(example("complete"))
    mounts = {"MOUNT_PATH": {"type": "host", "host_path": str(tmp_path / "refs")}}
    config = configuration_parse({"mounts": mounts})
    assert "HOST_MOUNT_NOT_ALLOWED" not in _names(configuration_check(config, manifest))


@pytest.mark.parametrize(
    "escape",
    [
        "{root}/../etc",  # `..` out of the root
        "{root}/link-to-etc",  # a symbolic link inside the root pointing out of it
        "{root}-sibling/refs",  # a sibling whose name starts like the root
        "/etc",
    ],
)
def test_it_refuses_a_host_path_that_resolves_outside_the_allowed_roots(
    monkeypatch, tmp_path, escape
):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link-to-etc").symlink_to("/etc")
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", str(root))
    refused = _mount_refusal({"type": "host", "host_path": escape.format(root=root)})
    assert refused.problem.name == "HOST_MOUNT_NOT_ALLOWED"


@pytest.mark.parametrize(
    "driver_opts",
    [{"type": "none", "o": "bind", "device": "/etc"}, {"o": "ro,rbind", "device": "/"}],
)
def test_it_refuses_a_local_volume_that_binds_a_host_path_outside_the_roots(
    monkeypatch, driver_opts
):
    monkeypatch.setenv("EXECUTIONS_HOST_MOUNT_ROOTS", "/srv")
    refused = _mount_refusal({"type": "volume", "driver": "local", "driver_opts": driver_opts})
    assert refused.problem.name == "HOST_MOUNT_NOT_ALLOWED"


@pytest.mark.django_db
def test_it_accepts_a_volume_that_binds_nothing_of_the_host(monkeypatch):
    monkeypatch.delenv("EXECUTIONS_HOST_MOUNT_ROOTS", raising=False)
    manifest = manifest_parse(example("complete"))
    volume = {"type": "volume", "driver": "local", "driver_opts": {"type": "tmpfs"}}
    config = configuration_parse({"mounts": {"MOUNT_PATH": volume}})
    assert "HOST_MOUNT_NOT_ALLOWED" not in _names(configuration_check(config, manifest))
