from __future__ import annotations

import hashlib
import io

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


def test_bootstrap_admin_prints_a_token_once():
    first, second = io.StringIO(), io.StringIO()
    call_command("bootstrap_admin", stdout=first)
    call_command("bootstrap_admin", stdout=second)
    printed = [w for w in first.getvalue().split() if w.startswith("rg_")]
    assert len(printed) == 1 and token_authenticate(plaintext=printed[0]).role == "admin"
    assert second.getvalue() == ""
