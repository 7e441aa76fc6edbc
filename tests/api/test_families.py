"""Each wire family: its OpenAPI document, its docs page from bundled assets, its auth errors."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import bearer

FAMILIES = {
    # family: (how an error body looks, the key that carries the message)
    "releases": lambda body: set(body) == {"detail"},
    "tracker": lambda body: body.get("ok") is False and "message" in body,
    "scale": lambda body: set(body) == {"detail"},
    "flotilla": lambda body: set(body) == {"error"},
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.mark.parametrize("family", FAMILIES)
def test_it_serves_the_openapi_document(client, family):
    resp = client.get(f"/_/{family}/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.")
    assert f"/_/{family}/whoami" in doc["paths"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_docs_page_uses_bundled_assets_only(client, family):
    resp = client.get(f"/_/{family}/docs")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    asset = client.get("/static/ninja/swagger-ui-bundle.js")
    assert asset.status_code == 200


@pytest.mark.parametrize("family", FAMILIES)
def test_a_missing_token_is_401_in_the_family_format(client, family):
    resp = client.get(f"/_/{family}/whoami")
    assert resp.status_code == 401
    assert FAMILIES[family](resp.json())


@pytest.mark.parametrize("family", FAMILIES)
def test_an_unknown_token_is_401_in_the_family_format(client, family):
    resp = client.get(f"/_/{family}/whoami", **bearer("rg_not-a-real-token"))
    assert resp.status_code == 401
    assert FAMILIES[family](resp.json())


@pytest.mark.parametrize("family", FAMILIES)
def test_a_wrong_role_is_403_in_the_family_format(client, family, user_token):
    resp = client.post(
        f"/_/{family}/tokens",
        {"role": "user"},
        content_type="application/json",
        **bearer(user_token),
    )
    assert resp.status_code == 403
    assert FAMILIES[family](resp.json())


@pytest.mark.parametrize("family", FAMILIES)
def test_a_valid_token_says_who_holds_it(client, family, user_token):
    resp = client.get(f"/_/{family}/whoami", **bearer(user_token))
    assert resp.status_code == 200
    assert resp.json() == {
        "name": "Charlie",
        "role": "user",
        "study_groups": ["SD_00000001"],
        "subject": "",
    }


def test_an_admin_mints_a_token_that_works(client, admin_token):
    resp = client.post(
        "/_/releases/tokens",
        {"role": "dev", "name": "Dana"},
        content_type="application/json",
        **bearer(admin_token),
    )
    assert resp.status_code == 201
    minted = resp.json()["token"]
    who = client.get("/_/releases/whoami", **bearer(minted)).json()
    assert who["role"] == "dev" and who["name"] == "Dana"


@pytest.mark.parametrize(
    "body",
    [
        {"role": "emperor"},
        {"role": 5},
        {},
        {"role": "dev", "name": "x" * 500},
        {"role": "dev", "study_groups": "SD_1"},
    ],
)
def test_bad_token_requests_get_400(client, admin_token, body):
    resp = client.post(
        "/_/flotilla/tokens", body, content_type="application/json", **bearer(admin_token)
    )
    assert resp.status_code == 400
    assert set(resp.json()) == {"error"}


def test_garbage_json_gets_400_not_500(client, admin_token):
    resp = client.post(
        "/_/scale/tokens", "{not json", content_type="application/json", **bearer(admin_token)
    )
    assert resp.status_code == 400
    assert "detail" in resp.json()


@pytest.mark.parametrize("family", FAMILIES)
def test_it_answers_a_too_large_body_with_413_in_the_family_format(client, family, admin_token):
    # One byte past Django's limit: request.body refuses it before reading (it was a 500).
    body = {"role": "dev", "name": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    resp = client.post(
        f"/_/{family}/tokens", body, content_type="application/json", **bearer(admin_token)
    )
    assert resp.status_code == 413
    assert FAMILIES[family](resp.json())


def test_the_index_lists_every_docs_page(client):
    docs = client.get("/_/").json()["docs"]
    assert set(docs) == set(FAMILIES)
