"""/studies/sync over the Django test client, and the import_studies command."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from domain.releases.models import Study
from tests.support.dataservice import DataserviceStandIn

pytestmark = pytest.mark.django_db


def test_sync_reads_every_page_and_flags_missing_studies(admin, monkeypatch, db):
    Study.objects.create(kf_id="SD_GONE0000", name="gone")
    Study.objects.create(kf_id="SD_00000000", name="old name")
    rows = [{"kf_id": f"SD_{i:08d}", "name": f"S{i}", "visible": i % 2 == 0} for i in range(250)]
    ds = DataserviceStandIn(rows, page_size=100)
    monkeypatch.setenv("DATASERVICE_URL", ds.url)
    try:
        resp = admin.post("/studies/sync")
    finally:
        ds.stop()
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok",
        "message": "Synchronized with dataservice",
        "new": 249,
        "deleted": 1,
    }
    assert len(ds.requests) == 3
    assert Study.objects.filter(deleted=False).count() == 250
    assert Study.objects.get(kf_id="SD_00000000").name == "S0"
    assert Study.objects.get(kf_id="SD_GONE0000").deleted is True
    assert Study.objects.get(kf_id="SD_00000001").visible is False


def test_sync_reports_a_dataservice_error(admin, user, monkeypatch, db):
    ds = DataserviceStandIn([], status=503)
    monkeypatch.setenv("DATASERVICE_URL", ds.url)
    try:
        resp = admin.post("/studies/sync")
    finally:
        ds.stop()
    assert resp.status_code == 503
    assert resp.json()["status"] == "error"
    assert user.post("/studies/sync").status_code == 403


def test_import_studies_command(tmp_path, db):
    path = tmp_path / "studies.json"
    path.write_text(json.dumps([{"kf_id": "SD_ABCDEFGH", "name": "A", "visible": False}]))
    call_command("import_studies", str(path))
    assert Study.objects.get(pk="SD_ABCDEFGH").visible is False
    path.write_text(json.dumps([{"kf_id": "bad"}]))
    with pytest.raises(CommandError):
        call_command("import_studies", str(path))


def test_sync_skips_or_coerces_rows_it_cannot_store(admin, monkeypatch, db):
    Study.objects.create(kf_id="SD_KEPT0000", name="kept", visible=True)
    rows = [
        {"kf_id": "SD_TOOLONG0000", "name": "id longer than 11 characters"},
        {"kf_id": "SD_\u0000BAD000", "name": "NUL in the id"},
        {"kf_id": 12345678, "name": "an id that is no string"},
        {"kf_id": "SD_LONGNAME", "name": "n" * 300, "visible": "false"},
        {"kf_id": "SD_BADDATE0", "name": "a\u0000b", "created_at": "last tuesday"},
        {"kf_id": "SD_DATED000", "name": "dated", "created_at": "2018-05-01T12:00:00+00:00"},
        {"kf_id": "SD_KEPT0000", "name": "kept", "visible": "maybe"},
        {"kf_id": "SD_NUMVIS00", "name": "numbers", "visible": 0},
    ]
    ds = DataserviceStandIn(rows)
    monkeypatch.setenv("DATASERVICE_URL", ds.url)
    try:
        resp = admin.post("/studies/sync")
    finally:
        ds.stop()
    assert resp.status_code == 200, resp.content
    assert resp.json()["new"] == 4 and resp.json()["deleted"] == 0
    assert sorted(Study.objects.values_list("kf_id", flat=True)) == [
        "SD_BADDATE0", "SD_DATED000", "SD_KEPT0000", "SD_LONGNAME", "SD_NUMVIS00",
    ]  # fmt: skip
    long_name = Study.objects.get(pk="SD_LONGNAME")
    assert long_name.name == "n" * 256
    assert long_name.visible is False  # the string "false" is false, not truthy
    assert Study.objects.get(pk="SD_BADDATE0").name == "ab"
    assert Study.objects.get(pk="SD_BADDATE0").created_at is not None
    assert Study.objects.get(pk="SD_DATED000").created_at.isoformat() == "2018-05-01T12:00:00+00:00"
    assert Study.objects.get(pk="SD_KEPT0000").visible is True  # "maybe" changes nothing
    assert Study.objects.get(pk="SD_NUMVIS00").visible is False


def test_import_studies_stores_long_names_safely(tmp_path, db):
    path = tmp_path / "studies.json"
    path.write_text(json.dumps([{"kf_id": "SD_ABCDEFGH", "name": "x" * 400}]))
    call_command("import_studies", str(path))
    assert Study.objects.get(pk="SD_ABCDEFGH").name == "x" * 256
