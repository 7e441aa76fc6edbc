"""Token management over HTTP (/_/<family>/tokens) and on the command line: list without
secrets, revoke, expire. Alice is an admin, Bob a developer whose token gets revoked or expires."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from domain.common.models import ApiToken
from domain.common.tokens import token_authenticate, token_create
from tests.api.test_families import FAMILIES
from tests.conftest import bearer
from tests.support.processes import ROOT, processes, start_web

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client()


def _mint(client: Client, admin: str, family: str = "releases", **body):
    return client.post(
        f"/_/{family}/tokens",
        {"role": "dev", "name": "Bob", **body},
        content_type="application/json",
        **bearer(admin),
    )


def _whoami(client: Client, token: str, family: str = "releases"):
    return client.get(f"/_/{family}/whoami", **bearer(token))


@pytest.mark.parametrize("family", FAMILIES)
def test_it_revokes_a_token_and_its_holder_gets_401_at_once(client, admin_token, family):
    minted = _mint(client, admin_token, family).json()
    bob = minted["token"]
    assert _whoami(client, bob, family).status_code == 200
    resp = client.delete(f"/_/{family}/tokens/{minted['id']}", **bearer(admin_token))
    assert resp.status_code == 204, resp.content
    refused = _whoami(client, bob, family)
    assert refused.status_code == 401 and FAMILIES[family](refused.json())
    # Revoking again changes nothing; Alice's own token still works.
    again = client.delete(f"/_/{family}/tokens/{minted['id']}", **bearer(admin_token))
    assert again.status_code == 204
    assert _whoami(client, admin_token, family).status_code == 200


@pytest.mark.parametrize("token_id", ["999999", str(2**70)])
def test_revoking_an_unknown_token_is_404_in_the_family_format(client, admin_token, token_id):
    for family, looks_right in FAMILIES.items():
        resp = client.delete(f"/_/{family}/tokens/{token_id}", **bearer(admin_token))
        assert resp.status_code == 404 and looks_right(resp.json()), (family, resp.content)


def test_it_lists_tokens_without_their_secrets(client, admin_token):
    bob = _mint(client, admin_token).json()
    token_create(role="user", name="Charlie", study_groups=["SD_00000001"])
    revoked = token_create(role="dev", name="Dana")
    client.delete(f"/_/scale/tokens/{revoked.token.pk}", **bearer(admin_token))
    resp = client.get("/_/releases/tokens", {"limit": 2}, **bearer(admin_token))
    assert resp.status_code == 200, resp.content
    page = resp.json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    everything = client.get("/_/releases/tokens", {"limit": 100}, **bearer(admin_token)).json()
    by_name = {t["name"]: t for t in everything["results"]}
    assert set(by_name) == {"Alice the admin", "Bob", "Charlie", "Dana"}
    assert by_name["Bob"]["id"] == bob["id"] and by_name["Bob"]["prefix"] == bob["token"][:10]
    assert by_name["Dana"]["revoked_at"] is not None and by_name["Bob"]["revoked_at"] is None
    assert by_name["Charlie"]["study_groups"] == ["SD_00000001"]
    body = json.dumps(everything)
    for row in ApiToken.objects.all():
        assert row.token_hash not in body
    assert bob["token"] not in body and admin_token not in body


@pytest.mark.parametrize("family", FAMILIES)
def test_only_admins_list_and_revoke_tokens(client, admin_token, dev_token, family):
    alice = token_authenticate(plaintext=admin_token)
    listed = client.get(f"/_/{family}/tokens", **bearer(dev_token))
    assert listed.status_code == 403 and FAMILIES[family](listed.json())
    revoke = client.delete(f"/_/{family}/tokens/{alice.pk}", **bearer(dev_token))
    assert revoke.status_code == 403 and FAMILIES[family](revoke.json())
    anonymous = client.delete(f"/_/{family}/tokens/{alice.pk}")
    assert anonymous.status_code == 401
    assert token_authenticate(plaintext=admin_token) is not None


def test_it_mints_an_expiring_token_that_gets_401_once_expired(client, admin_token):
    expires_at = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    minted = _mint(client, admin_token, expires_at=expires_at.isoformat())
    assert minted.status_code == 201, minted.content
    body = minted.json()
    assert datetime.fromisoformat(body["expires_at"]) == expires_at
    assert _whoami(client, body["token"]).status_code == 200
    # The clock reaches expires_at (moved by rewriting the row rather than by sleeping).
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _whoami(client, body["token"]).status_code == 401
    listed = client.get("/_/releases/tokens", **bearer(admin_token)).json()["results"]
    assert any(t["id"] == body["id"] and t["expires_at"] for t in listed)


@pytest.mark.parametrize(
    "expires_at",
    [
        "2020-01-01T00:00:00Z",  # past
        "2099-01-01T00:00:00",  # no time zone: which one?
        12,  # a Unix time, in 1970
    ],
)
def test_a_past_or_zoneless_expiry_is_400_and_mints_nothing(client, admin_token, expires_at):
    for family, looks_right in FAMILIES.items():
        resp = _mint(client, admin_token, family, expires_at=expires_at)
        assert resp.status_code == 400 and looks_right(resp.json()), (family, resp.content)
    assert ApiToken.objects.count() == 1  # Alice's own


def test_it_mints_a_token_whose_expiry_has_an_offset_postgresql_cannot_store(client, admin_token):
    # ISO 8601 allows offsets up to 23:59, PostgreSQL up to 15:59: this one was a 500.
    minted = _mint(client, admin_token, expires_at="4461-05-19T16:12:16+21:46")
    assert minted.status_code == 201, minted.content
    expected = datetime(4461, 5, 18, 18, 26, 16, tzinfo=UTC)
    assert datetime.fromisoformat(minted.json()["expires_at"]) == expected
    assert ApiToken.objects.get(pk=minted.json()["id"]).expires_at == expected


def test_an_expiry_past_the_year_9999_in_utc_is_400(client, admin_token):
    resp = _mint(client, admin_token, expires_at="9999-12-31T23:00:00-23:00")
    assert resp.status_code == 400, resp.content
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("expires_at", ["tomorrow", "", [], {"at": 1}])
def test_an_expiry_that_is_no_time_is_400_and_mints_nothing(client, admin_token, expires_at):
    for family in FAMILIES:
        resp = _mint(client, admin_token, family, expires_at=expires_at)
        assert resp.status_code == 400 and isinstance(resp.json(), dict), (family, resp.content)
    assert ApiToken.objects.count() == 1


def test_create_token_expires_in_sets_the_expiry():
    out = io.StringIO()
    before = timezone.now()
    call_command("create_token", "--role", "dev", "--expires-in", "2h", stdout=out)
    token = token_authenticate(plaintext=out.getvalue().strip())
    assert token is not None
    assert before + timedelta(hours=2) <= token.expires_at <= timezone.now() + timedelta(hours=2)
    without = io.StringIO()
    call_command("create_token", "--role", "dev", stdout=without)
    assert token_authenticate(plaintext=without.getvalue().strip()).expires_at is None


@pytest.mark.parametrize("value", ["0", "-5m", "2 weeks", "1y", ""])
def test_create_token_refuses_a_bad_expires_in(value):
    with pytest.raises(CommandError):
        call_command("create_token", "--role", "dev", "--expires-in", value)
    assert not ApiToken.objects.exists()


def test_revoke_token_command_revokes_and_lists(admin_token):
    bob = token_create(role="dev", name="Bob")
    out = io.StringIO()
    call_command("revoke_token", str(bob.token.pk), stdout=out)
    assert f"token {bob.token.pk} revoked" in out.getvalue()
    assert token_authenticate(plaintext=bob.plaintext) is None
    assert token_authenticate(plaintext=admin_token) is not None
    listing = io.StringIO()
    call_command("revoke_token", "--list", stdout=listing)
    lines = listing.getvalue().splitlines()
    assert any(line.startswith(f"{bob.token.pk}\t") and "\trevoked\t" in line for line in lines)
    assert admin_token not in listing.getvalue() and bob.plaintext not in listing.getvalue()
    with pytest.raises(CommandError):
        call_command("revoke_token", "424242")


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_token_revoked_by_the_command_at_once_on_a_running_server(
    subprocess_env, log_dir
):
    """Bob's token is revoked from another process while gunicorn serves: no process keeps it."""
    bob = token_create(role="dev", name="Bob")
    with processes(start_web(subprocess_env, log_dir, workers=2)) as (web,):
        url = web.info["url"] + "/_/tracker/whoami"
        headers = {"Authorization": f"Bearer {bob.plaintext}"}
        for _ in range(6):
            assert requests.get(url, headers=headers, timeout=10).status_code == 200
        subprocess.run(
            [sys.executable, "manage.py", "revoke_token", str(bob.token.pk)],
            cwd=ROOT,
            env=subprocess_env,
            check=True,
            capture_output=True,
        )
        for _ in range(6):
            assert requests.get(url, headers=headers, timeout=10).status_code == 401
    assert ApiToken.objects.get(pk=bob.token.pk).revoked_at <= datetime.now(UTC)
