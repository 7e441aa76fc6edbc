"""domain/jobs/job_types.py: create, new version, upsert, edit and validate job types, with the
spec's A.14 scenarios that concern them. Bob (a developer) registers the job types."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from domain.common.errors import InvalidInput, NotFound
from domain.common.models import TransitionLog
from domain.jobs.error_catalog import BUILTIN_ERRORS
from domain.jobs.job_types import job_type_create, job_type_edit, job_type_validate
from domain.jobs.models import Error, JobType, JobTypeRevision, StoredSecret
from domain.jobs.problems import ConfigurationInvalid, ManifestInvalid
from domain.jobs.selectors import job_type_names, job_type_secrets, job_type_versions, job_types
from domain.jobs.versions import version_array
from domain.jobs.workspaces import workspace_create
from tests.domain.jobs.seeds import complete, example, minimal

pytestmark = pytest.mark.django_db

HOST = {"broker": {"type": "host", "host_path": "/srv/files"}}


@pytest.fixture
def products(db):
    return workspace_create(title="Products", configuration=HOST)


def _create(manifest, **kw):
    return job_type_create(docker_image=kw.pop("docker_image", "img:1"), manifest=manifest, **kw)


def test_it_creates_a_job_type_from_the_complete_example_with_a_default_workspace(products):
    # A.14-1: revision 1, no scheduling limit, non-secret settings kept, secret ones not.
    config = {
        "output_workspaces": {"default": "products"},
        "settings": {"VERSION": "1.0", "DB_HOST": "db", "DB_PASS": "hunter2"},
    }
    saved = _create(complete(), configuration=config)
    job_type = saved.job_type
    assert saved.created
    assert (job_type.name, job_type.version, job_type.revision_num) == ("my-job", "1.0.0", 1)
    assert job_type.max_scheduled is None
    assert job_type.configuration["settings"] == {"VERSION": "1.0", "DB_HOST": "db"}
    assert job_type.configuration["output_workspaces"]["default"] == "products"
    assert job_type.title == "My first job"
    assert list(job_type.tags.values_list("tag", flat=True)) == [
        "hdf5",
        "png",
        "csv",
        "image processing",
    ]
    assert JobTypeRevision.objects.get(job_type=job_type).revision_num == 1


def test_it_stores_secret_settings_encrypted_under_the_originals_key(products):
    # A.14-5: the key is `name-version` with dots as underscores; the row holds no plaintext.
    saved = _create(complete(), configuration={"settings": {"DB_PASS": "hunter2"}})
    row = StoredSecret.objects.get(key="my-job-1_0_0")
    assert "hunter2" not in row.ciphertext
    assert job_type_secrets(job_type=saved.job_type) == {"DB_PASS": "hunter2"}
    assert "DB_PASS" not in saved.job_type.configuration["settings"]


def test_it_keeps_a_stored_secret_when_an_edit_leaves_it_out(products):
    _create(complete(), configuration={"settings": {"DB_PASS": "hunter2"}})
    job_type_edit(name="my-job", version="1.0.0", configuration={"settings": {"VERSION": "2"}})
    job_type = JobType.objects.get(name="my-job")
    assert job_type_secrets(job_type=job_type) == {"DB_PASS": "hunter2"}
    assert job_type.configuration["settings"] == {"VERSION": "2"}


def test_it_registers_a_manifest_with_file_outputs_and_no_configuration():
    # QUIRK fixed: the original refused this with MISSING_WORKSPACE.
    saved = _create(example("watermark"))
    assert saved.created
    assert saved.job_type.configuration["output_workspaces"] == {"default": "", "outputs": {}}


def test_it_adds_a_new_version_of_a_name():
    # A.14-3
    _create(minimal(version="1.0.0"))
    second = _create(minimal(version="1.1.0"))
    assert second.created
    assert sorted(j.version for j in JobType.objects.filter(name="random-number-gen")) == [
        "1.0.0",
        "1.1.0",
    ]


def test_it_upserts_an_existing_name_and_version_as_an_edit_with_the_manifest():
    # A.14-4: a new packageVersion and image on the same jobVersion.
    _create(minimal(version="1.0.0"))
    saved = _create(minimal(version="1.0.0", packageVersion="1.0.1"), docker_image="img:2")
    assert not saved.created
    assert saved.validation.as_dict() == {"is_valid": True, "errors": [], "warnings": []}
    job_type = JobType.objects.get(name="random-number-gen")
    assert (job_type.docker_image, job_type.revision_num) == ("img:2", 2)
    assert job_type.manifest["job"]["packageVersion"] == "1.0.1"
    assert JobTypeRevision.objects.filter(job_type=job_type).count() == 2


def test_it_refuses_the_names_of_the_routes_beside_job_types():
    # A.14-7: `validation` (and the statistics routes) would collide with a route.
    for name in ("validation", "status", "system-failures"):
        with pytest.raises(InvalidInput, match=f'named "{name}"'):
            _create(minimal(name=name))
    assert not JobType.objects.exists()


def test_it_refuses_an_invalid_manifest_and_writes_nothing():
    with pytest.raises(ManifestInvalid):
        _create(minimal(timeout="soon"))
    assert not JobType.objects.exists() and not JobTypeRevision.objects.exists()


def test_it_refuses_a_configuration_naming_a_missing_workspace_and_writes_nothing():
    with pytest.raises(ConfigurationInvalid) as refused:
        _create(example("watermark"), configuration={"output_workspaces": {"default": "gone"}})
    assert refused.value.problem.name == "INVALID_WORKSPACE"
    assert not JobType.objects.exists() and not StoredSecret.objects.exists()


def test_it_counts_a_revision_only_for_a_manifest_even_an_identical_one():
    _create(minimal())
    job_type_edit(name="random-number-gen", version="0.1.0", changes={"docker_image": "img:9"})
    assert JobType.objects.get().revision_num == 1
    job_type_edit(name="random-number-gen", version="0.1.0", manifest=minimal())
    job_type = JobType.objects.get()
    assert job_type.revision_num == 2
    # The new revision records the image of its time.
    assert JobTypeRevision.objects.get(revision_num=2).docker_image == "img:9"


def test_it_resets_max_scheduled_to_null_and_is_published_to_false():
    # QUIRK fixed: the original applied both only when truthy.
    _create(minimal(), options={"max_scheduled": 4, "is_published": True})
    job_type_edit(
        name="random-number-gen",
        version="0.1.0",
        changes={"max_scheduled": None, "is_published": False},
    )
    job_type = JobType.objects.get()
    assert job_type.max_scheduled is None and job_type.is_published is False


def test_it_stamps_and_logs_pausing_and_deprecation():
    _create(minimal())
    job_type_edit(
        name="random-number-gen", version="0.1.0", changes={"is_paused": True, "is_active": False}
    )
    job_type = JobType.objects.get()
    assert job_type.paused is not None and job_type.deprecated is not None
    logged = TransitionLog.objects.filter(aggregate="jobs.jobtype", aggregate_id=str(job_type.pk))
    assert set(logged.values_list("field", "source", "target")) == {
        ("is_paused", "false", "true"),
        ("is_active", "true", "false"),
    }
    job_type_edit(
        name="random-number-gen", version="0.1.0", changes={"is_paused": False, "is_active": True}
    )
    job_type.refresh_from_db()
    assert job_type.paused is None and job_type.deprecated is None


def test_it_refuses_an_edit_whose_manifest_names_another_job_type():
    # A.14-9
    _create(minimal())
    with pytest.raises(InvalidInput, match="must be the job type's"):
        job_type_edit(name="random-number-gen", version="0.1.0", manifest=minimal(version="2.0.0"))
    with pytest.raises(NotFound):
        job_type_edit(name="missing", version="0.1.0", changes={"is_paused": True})


def test_it_lets_a_system_job_type_change_only_is_paused():
    saved = _create(minimal())
    JobType.objects.filter(pk=saved.job_type.pk).update(is_system=True)
    with pytest.raises(InvalidInput, match="is_paused"):
        job_type_edit(name="random-number-gen", version="0.1.0", changes={"max_scheduled": 1})
    job_type_edit(name="random-number-gen", version="0.1.0", changes={"is_paused": True})
    assert JobType.objects.get().is_paused


def test_it_stores_a_manifests_errors_as_data_and_algorithm_errors():
    _create(example("watermark"))
    rows = {e.name: e for e in Error.objects.filter(job_type_name="image-watermark")}
    assert rows["image-Corrupt-1"].category == "DATA"
    assert rows["algorithm-failure"].category == "ALGORITHM"
    assert not any(e.should_be_retried or e.is_builtin for e in rows.values())


def test_the_builtin_errors_are_seeded_with_their_retry_rules():
    # The migration's own function, run on this database: a transactional test's truncation
    # earlier in the same database may have removed what the migration seeded.
    seeding = importlib.import_module("domain.jobs.migrations.0002_builtin_errors")
    Error.objects.filter(is_builtin=True).delete()
    seeding.seed_builtin_errors(django_apps, None)
    builtin = {e.name: e for e in Error.objects.filter(is_builtin=True)}
    assert set(builtin) == {entry[0] for entry in BUILTIN_ERRORS}
    assert builtin["node-lost"].category == "SYSTEM" and builtin["node-lost"].should_be_retried
    assert builtin["timeout"].category == "ALGORITHM" and not builtin["timeout"].should_be_retried
    assert builtin["missing-mount"].category == "SYSTEM"
    assert not builtin["missing-mount"].should_be_retried


def test_it_validates_without_saving_and_names_every_problem():
    # A.14-11
    found = job_type_validate(
        manifest=complete(resources={"scalar": [{"name": "chocolate", "value": 1}]}),
        configuration={"settings": {"EXTRA": "x"}},
    )
    names = [w.name for w in found.warnings]
    assert found.is_valid
    assert names.count("MISSING_MOUNT") == 2
    assert {"UNKNOWN_SETTING", "NONSTANDARD_RESOURCE", "MISSING_WORKSPACE"} <= set(names)
    refused = job_type_validate(manifest={"seedVersion": "1.0.0", "job": {}, "errors": []})
    assert not refused.is_valid
    assert [e.name for e in refused.errors] == ["JSON_VALIDATION_ERROR"]
    gone = job_type_validate(
        manifest=example("watermark"), configuration={"output_workspaces": {"default": "gone"}}
    )
    assert [e.name for e in gone.errors] == ["INVALID_WORKSPACE"]
    assert not JobType.objects.exists()


def test_it_picks_the_latest_version_by_semver_not_by_string():
    for version in ("9.0.0", "10.0.0", "10.0.0-rc.1", "2.0.0+build.7"):
        _create(minimal(version=version))
    assert [n.latest_version for n in job_type_names()] == ["10.0.0"]
    versions = [j.version for j in job_type_versions(name="random-number-gen")]
    assert versions == ["10.0.0", "10.0.0-rc.1", "9.0.0", "2.0.0+build.7"]


def test_version_arrays_follow_the_original():
    assert version_array("1.2.3") == [1, 2, 3, None]
    assert version_array("1.2.3-rc.4") == [1, 2, 3, 4]
    assert version_array("1.2.3-beta") == [1, 2, 3, ord("b")]
    assert version_array("latest") == [0, 0, 0, 0]


def test_it_finds_job_types_by_name_or_tag():
    _create(complete())
    _create(minimal())
    assert [j.name for j in job_types(keywords=["PNG"])] == ["my-job"]
    assert [j.name for j in job_types(keywords=["random"])] == ["random-number-gen"]
    assert len(job_types(keywords=["png", "random"])) == 2
