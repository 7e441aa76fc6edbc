from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from domain.common.errors import InvalidInput
from domain.common.models import ApiToken
from domain.common.tokens import token_authenticate, token_create, token_revoke

pytestmark = pytest.mark.django_db


def test_only_the_hash_is_stored():
    issued = token_create(role="dev", name="Bob")
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.plaintext not in (row.token_hash, row.token_prefix, row.name)
    assert row.token_hash == hashlib.sha256(issued.plaintext.encode()).hexdigest()


def test_tokens_are_long_and_distinct():
    a, b = token_create(role="user"), token_create(role="user")
    assert a.plaintext != b.plaintext
    assert len(a.plaintext) >= 40


def test_it_authenticates_the_plaintext_and_nothing_else():
    issued = token_create(role="admin")
    assert token_authenticate(plaintext=issued.plaintext).pk == issued.token.pk
    assert token_authenticate(plaintext=issued.plaintext + "x") is None
    assert token_authenticate(plaintext="") is None
    assert token_authenticate(plaintext="x" * 10_000) is None


def test_a_revoked_token_no_longer_authenticates():
    issued = token_create(role="admin")
    assert token_revoke(token_id=issued.token.pk)
    assert token_authenticate(plaintext=issued.plaintext) is None
    assert not token_revoke(token_id=issued.token.pk)


@pytest.mark.parametrize("role", ["root", "", "ADMIN"])
def test_an_unknown_role_is_refused(role):
    with pytest.raises(InvalidInput):
        token_create(role=role)


def test_create_token_prints_a_working_token():
    out = io.StringIO()
    call_command("create_token", "--role", "admin", "--name", "ops", stdout=out)
    plaintext = out.getvalue().strip()
    token = token_authenticate(plaintext=plaintext)
    assert token is not None and token.role == "admin" and token.name == "ops"


def test_create_token_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("create_token", "--role", "superuser")


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "var"
    return settings.DATA_DIR


@pytest.fixture
def open_umask():
    # The worst umask a service manager may give: the file's mode must not depend on it.
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_it_writes_the_first_admin_token_to_a_private_file_and_prints_only_its_path(
    data_dir, open_umask
):
    first, second = io.StringIO(), io.StringIO()
    call_command("bootstrap_admin", stdout=first)
    call_command("bootstrap_admin", stdout=second)
    path = data_dir / "admin-token"
    assert str(path) in first.getvalue()
    # Nothing a container log keeps could be used as a credential.
    assert "rg_" not in first.getvalue()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    plaintext = path.read_text().strip()
    assert plaintext not in first.getvalue()
    assert token_authenticate(plaintext=plaintext).role == "admin"
    assert second.getvalue() == "" and ApiToken.objects.count() == 1
    assert sorted(p.name for p in data_dir.iterdir()) == ["admin-token"]


def test_bootstrap_admin_print_shows_the_token_once_and_writes_no_file(data_dir):
    first, second = io.StringIO(), io.StringIO()
    call_command("bootstrap_admin", "--print", stdout=first)
    call_command("bootstrap_admin", "--print", stdout=second)
    printed = [w for w in first.getvalue().split() if w.startswith("rg_")]
    assert len(printed) == 1 and token_authenticate(plaintext=printed[0]).role == "admin"
    assert second.getvalue() == ""
    assert not (data_dir / "admin-token").exists()


def test_bootstrap_admin_replaces_the_file_of_a_revoked_admin_without_following_links(
    data_dir, tmp_path
):
    """After the only admin token was revoked the next bootstrap writes a new file; a symlink
    Mallory planted in its place is replaced, not written through."""
    call_command("bootstrap_admin", stdout=io.StringIO())
    old = (data_dir / "admin-token").read_text().strip()
    token_revoke(token_id=token_authenticate(plaintext=old).pk)
    mallory = tmp_path / "mallory-reads-this"
    (data_dir / "admin-token").unlink()
    (data_dir / "admin-token").symlink_to(mallory)
    call_command("bootstrap_admin", stdout=io.StringIO())
    path = data_dir / "admin-token"
    assert not path.is_symlink() and not mallory.exists()
    new = path.read_text().strip()
    assert new != old and token_authenticate(plaintext=new).role == "admin"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
