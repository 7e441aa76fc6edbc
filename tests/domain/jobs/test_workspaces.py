"""domain/jobs/workspaces.py: create, edit, validate workspaces; the default workspace."""

from __future__ import annotations

import pytest

from domain.common.errors import InvalidInput, NotFound
from domain.jobs.models import StoredSecret, Workspace
from domain.jobs.problems import WorkspaceInvalid
from domain.jobs.selectors import MASKED, workspace_configuration_shown, workspace_credentials
from domain.jobs.workspaces import (
    workspace_create,
    workspace_default_ensure,
    workspace_edit,
    workspace_validate,
)

pytestmark = pytest.mark.django_db

HOST = {"broker": {"type": "host", "host_path": "/srv/raw"}}
S3 = {
    "broker": {
        "type": "s3",
        "bucket_name": "products",
        "credentials": {"access_key_id": "AKIDALICE", "secret_access_key": "s3cr3t-alice"},
        "region_name": "us-east-1",
        "endpoint_url": "http://127.0.0.1:9000",
    }
}


def test_it_names_a_workspace_after_its_title():
    workspace = workspace_create(title="Raw Source", configuration=HOST)
    assert workspace.name == "raw-source"
    assert workspace.json_config == HOST
    assert workspace.is_active and workspace.deprecated is None


def test_it_refuses_a_name_taken():
    workspace_create(title="Raw Source", configuration=HOST)
    with pytest.raises(InvalidInput, match="already exists"):
        workspace_create(title="Raw  source!", configuration=HOST)
    assert Workspace.objects.count() == 1


def test_it_keeps_s3_credentials_encrypted_and_shows_them_masked():
    workspace = workspace_create(title="Products", configuration=S3)
    assert "credentials" not in workspace.json_config["broker"]
    row = StoredSecret.objects.get(key=workspace.secrets_key)
    assert "s3cr3t-alice" not in row.ciphertext and "AKIDALICE" not in row.ciphertext
    assert workspace_credentials(workspace=workspace)["secret_access_key"] == "s3cr3t-alice"
    shown = workspace_configuration_shown(workspace=workspace)
    assert shown["broker"]["credentials"] == {"access_key_id": MASKED, "secret_access_key": MASKED}
    assert shown["broker"]["bucket_name"] == "products"


REFUSED = {
    "no broker": {},
    "an nfs broker": {"broker": {"type": "nfs", "nfs_path": "host:/x"}},
    "a relative host path": {"broker": {"type": "host", "host_path": "srv/raw"}},
    "s3 without a bucket": {"broker": {"type": "s3"}},
    "half the credentials": {
        "broker": {"type": "s3", "bucket_name": "b", "credentials": {"access_key_id": "a"}}
    },
    "an endpoint that is no http url": {
        "broker": {"type": "s3", "bucket_name": "b", "endpoint_url": "file:///etc"}
    },
    "an unknown field": {"broker": {"type": "host", "host_path": "/x", "nested": [[[]]]}},
}


@pytest.mark.parametrize("case", REFUSED)
def test_it_refuses_an_invalid_configuration(case):
    with pytest.raises(WorkspaceInvalid) as refused:
        workspace_create(title="Bad", configuration=REFUSED[case])
    assert refused.value.problem.name == "INVALID_CONFIGURATION"
    assert not Workspace.objects.exists()


def test_it_edits_and_deprecates_a_workspace_keeping_its_credentials():
    workspace = workspace_create(title="Products", configuration=S3)
    new_broker = {k: v for k, v in S3["broker"].items() if k != "credentials"}
    workspace_edit(
        workspace_id=workspace.pk,
        changes={
            "title": "Products v2",
            "is_active": False,
            "configuration": {"broker": new_broker},
        },
    )
    workspace.refresh_from_db()
    assert workspace.title == "Products v2"
    assert not workspace.is_active and workspace.deprecated is not None
    assert workspace_credentials(workspace=workspace)["access_key_id"] == "AKIDALICE"
    with pytest.raises(NotFound):
        workspace_edit(workspace_id=workspace.pk + 100, changes={"title": "x"})


def test_it_warns_when_a_validated_edit_changes_the_broker_type():
    workspace_create(title="Raw", configuration=HOST)
    found = workspace_validate(name="raw", configuration=S3)
    assert found.is_valid
    assert [w.name for w in found.warnings] == ["broker_type"]
    refused = workspace_validate(configuration={"broker": {"type": "ftp"}})
    assert [e.name for e in refused.errors] == ["INVALID_CONFIGURATION"]


def test_a_fresh_install_has_the_default_workspace_in_its_data_directory(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    workspace = workspace_default_ensure()
    assert workspace.name == "default"
    assert workspace.json_config["broker"]["host_path"] == str(tmp_path / "workspaces" / "default")
    assert (tmp_path / "workspaces" / "default").is_dir()
    assert workspace_default_ensure().pk == workspace.pk


def test_the_default_workspace_is_named_by_the_environment(monkeypatch, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    monkeypatch.setenv("SCALE_DEFAULT_WORKSPACE", "scratch")
    assert workspace_default_ensure().name == "scratch"
