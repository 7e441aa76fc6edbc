"""Bearer JWTs from an OIDC provider beside API tokens: the provider is a real HTTP server on
127.0.0.1 serving a JWKS made in the test; the API is reached over the Django test client."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import jwt.api_jwk
import jwt.jwk_set_cache
import jwt.jwks_client
import pytest

from domain.common import jwks
from domain.common.models import ApiToken
from domain.releases import services, task_services
from domain.releases.models import Release, Task, TaskService
from tests.support.api_client import Api
from tests.support.oidc_provider import (
    OidcProviderStandIn,
    RsaKey,
    hs256_with_public_key,
    unsigned,
)
from tests.support.task_service import TaskServiceStandIn

pytestmark = pytest.mark.django_db

ROLES = "https://kidsfirstdrc.org/roles"
GROUPS = "https://kidsfirstdrc.org/groups"
MISSING = {"detail": "Authentication credentials were not provided."}
ISSUER = "https://idp.example/"
AUDIENCE = "https://regatta.example"


def claims(roles=None, groups=None, **extra) -> dict:
    now = int(time.time())
    out = {"sub": "auth0|alice", "iat": now, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE}
    if roles is not None:
        out[ROLES] = roles
    if groups is not None:
        out[GROUPS] = groups
    return {**out, **extra}


class Clock:
    """Stands in for time.monotonic in the key cache, so a test moves time without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    jwks.clear_cache()
    yield
    jwks.clear_cache()


@pytest.fixture
def provider():
    idp = OidcProviderStandIn()
    yield idp
    idp.stop()


@pytest.fixture
def oidc(settings, provider) -> OidcProviderStandIn:
    """OIDC on: the JWKS URL, issuer and audience set (all three are required), default claims."""
    settings.OIDC_JWKS_URL = provider.url
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_AUDIENCE = AUDIENCE
    settings.OIDC_JWKS_CACHE_SECONDS = 3600
    return provider


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(jwks, "_clock", fake)
    # PyJWKClient's cache lifespan and refetch cooldown read time.monotonic() in these modules.
    library_time = SimpleNamespace(monotonic=fake)
    for module in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        monkeypatch.setattr(module, "time", library_time)
    return fake


def _release(api: Api, *studies: str):
    return api.post("/releases", {"name": "R", "studies": list(studies or ["SD_00000001"])})


def _whoami(token: str):
    return Api(token).get("/_/releases/whoami")


def test_an_admin_jwt_creates_a_task_service(oidc):
    service = TaskServiceStandIn(mode="manual", name="test")
    try:
        admin = Api(oidc.key.sign(claims(["ADMIN"])))
        resp = admin.post("/task-services", {"name": "ETL", "author": "jon", "url": service.url})
    finally:
        service.stop()
    assert resp.status_code == 201, resp.content
    assert TaskService.objects.filter(pk=resp.json()["kf_id"]).exists()
    # The only token row is the new service's inbound token: the JWT caller left none.
    assert list(ApiToken.objects.values_list("role", flat=True)) == ["service"]


def test_a_user_jwt_releases_only_its_own_studies(oidc, studies):
    user = Api(oidc.key.sign(claims(["user"], ["SD_00000001"])))
    mine = _release(user)
    assert mine.status_code == 201, mine.content
    for other in (["SD_00000002"], ["SD_00000001", "SD_00000002"]):
        resp = _release(user, *other)
        assert resp.status_code == 403 and resp.json() == {"detail": "Not allowed"}
    kf_id = mine.json()["kf_id"]
    resp = user.patch(f"/releases/{kf_id}", {"name": "x"})
    assert resp.status_code == 403 and resp.json() == {"detail": "Must be an admin"}
    services.release_prepare(release_id=kf_id)
    assert user.post(f"/releases/{kf_id}/publish").json() == {"message": "publishing"}
    assert Release.objects.count() == 1
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("token_claims", "role", "groups"),
    [
        (claims(["ADMIN"], ["SD_00000001"]), "admin", ["SD_00000001"]),
        (claims(["user", "Dev"], ["SD_00000001"]), "dev", ["SD_00000001"]),
        (claims("User", ["SD_00000001", "SD_00000001", 7]), "user", ["SD_00000001"]),
        (claims(["viewer"], ["SD_00000001"]), "user", []),
        (claims(None, ["SD_00000001"]), "user", []),
        # A JWT never speaks for a task service: that role belongs to inbound API tokens.
        (claims(["service"], ["SD_00000001"]), "user", []),
        (claims(None, None, gty="client-credentials", sub="m2m@clients"), "admin", []),
    ],
)
def test_claims_map_to_a_role_and_groups(oidc, token_claims, role, groups):
    resp = _whoami(oidc.key.sign(token_claims))
    assert resp.status_code == 200, resp.content
    assert resp.json() == {
        "name": "oidc",
        "role": role,
        "study_groups": groups,
        "subject": token_claims["sub"],
    }


def test_configured_claim_names_are_read(settings, oidc):
    settings.OIDC_ROLES_CLAIM = "roles"
    settings.OIDC_GROUPS_CLAIM = "studies"
    # The default claim names are no longer read: only `roles` and `studies` count.
    token = oidc.key.sign({**claims(["dev"]), "roles": ["admin"], "studies": ["SD_00000002"]})
    assert _whoami(token).json()["role"] == "admin"
    assert _whoami(token).json()["study_groups"] == ["SD_00000002"]


def test_a_client_credentials_jwt_is_an_admin(oidc, studies):
    machine = Api(oidc.key.sign(claims(gty="client-credentials", sub="m2m@clients")))
    created = _release(machine, "SD_00000002")
    assert created.status_code == 201, created.content
    assert machine.post("/releases/status_checks").status_code == 200
    # PATCH /tasks reads request.auth to learn which service speaks; an admin may report any.
    svc, _ = task_services.task_service_create(name="S", url="http://ts.example", author="jon")
    kf_id = created.json()["kf_id"]
    services.release_prepare(release_id=kf_id)
    task = Task.objects.get(release_id=kf_id, task_service=svc)
    resp = machine.patch(f"/tasks/{task.kf_id}", {"state": "initialized", "progress": 5})
    assert resp.status_code == 200, resp.content
    assert resp.json()["state"] == "initialized" and resp.json()["progress"] == 5


def _refused(token: str) -> None:
    """Answered exactly as a request without credentials: 403 on writes, 401 on whoami."""
    resp = _release(Api(token))
    assert resp.status_code == 403 and resp.json() == MISSING
    who = _whoami(token)
    assert who.status_code == 401
    assert who.json() == Api().get("/_/releases/whoami").json()


@pytest.mark.parametrize(
    "times",
    [
        {"exp": -120},  # expired beyond the leeway
        {"nbf": 300},  # not valid yet
        {"exp": None},  # never expires: refused
    ],
)
def test_an_expired_or_not_yet_valid_jwt_is_a_missing_token(oidc, studies, times):
    now = int(time.time())
    body = claims(["admin"])
    for name, offset in times.items():
        if offset is None:
            body.pop(name)
        else:
            body[name] = now + offset
    _refused(oidc.key.sign(body))
    assert not Release.objects.exists()


def test_a_few_seconds_of_clock_skew_are_forgiven(oidc, studies):
    now = int(time.time())
    token = oidc.key.sign(claims(["admin"], exp=now - 5, nbf=now + 5))
    assert _release(Api(token)).status_code == 201


def test_a_jwt_signed_by_another_key_is_refused(oidc, studies):
    # Same kid as the provider's key, but a key the provider never published.
    impostor = RsaKey.generate(oidc.key.kid)
    _refused(impostor.sign(claims(["admin"])))
    # A genuine token whose claims were swapped keeps a signature that no longer matches.
    header, _, signature = oidc.key.sign(claims(["user"], ["SD_00000001"])).split(".")
    _, forged, _ = oidc.key.sign(claims(["admin"])).split(".")
    _refused(f"{header}.{forged}.{signature}")
    assert not Release.objects.exists()


@pytest.mark.parametrize("forge", ["none", "hs256"])
def test_unsigned_and_hmac_forgeries_are_refused(oidc, studies, forge):
    body = claims(["admin"])
    token = (
        unsigned(body, oidc.key.kid) if forge == "none" else hs256_with_public_key(oidc.key, body)
    )
    _refused(token)
    assert not Release.objects.exists()


def test_issuer_and_audience_are_checked(oidc, studies):
    good = claims(["admin"], iss=ISSUER, aud=AUDIENCE)
    assert _release(Api(oidc.key.sign(good))).status_code == 201
    several = {**good, "aud": ["https://other.example", AUDIENCE]}
    assert _release(Api(oidc.key.sign(several))).status_code == 201
    for wrong in (
        {**good, "aud": "https://other.example"},
        {**good, "iss": "https://evil.example/"},
        {k: v for k, v in good.items() if k != "aud"},
        {k: v for k, v in good.items() if k != "iss"},
    ):
        _refused(oidc.key.sign(wrong))
    assert Release.objects.count() == 2


@pytest.mark.parametrize("unset", ["OIDC_ISSUER", "OIDC_AUDIENCE"])
def test_it_accepts_no_jwt_while_issuer_or_audience_is_unset(settings, oidc, studies, unset):
    # Settings refuse to start so (see test_oidc_config); a config changed at run time must not
    # fall back to accepting tokens for any audience or issuer.
    setattr(settings, unset, "")
    _refused(oidc.key.sign(claims(["admin"])))
    _refused(oidc.key.sign(claims(["admin"], iss="https://any.example/", aud="https://other")))
    assert not Release.objects.exists()


def test_an_unknown_kid_refetches_the_key_set_once(settings, oidc, clock, studies):
    settings.OIDC_JWKS_CACHE_SECONDS = 60
    old, new, stranger = oidc.key, RsaKey.generate("key-2"), RsaKey.generate("key-3")
    assert _whoami(old.sign(claims(["admin"]))).status_code == 200
    assert oidc.fetches == 1
    # The provider rotates: the new kid is unknown to the cache, which fetches the set again.
    oidc.publish(new)
    clock.advance(jwks.REFETCH_MIN_INTERVAL + 1)
    assert _whoami(new.sign(claims(["admin"]))).status_code == 200
    assert oidc.fetches == 2
    assert _whoami(new.sign(claims(["dev"]))).json()["role"] == "dev"
    assert oidc.fetches == 2  # cached
    # A retired key is gone with the refetch; unknown kids right after it do not fetch again.
    _refused(old.sign(claims(["admin"])))
    _refused(stranger.sign(claims(["admin"])))
    assert oidc.fetches == 2
    clock.advance(jwks.REFETCH_MIN_INTERVAL + 1)
    _refused(stranger.sign(claims(["admin"])))
    assert oidc.fetches == 3
    # Past OIDC_JWKS_CACHE_SECONDS even a known kid fetches the set again.
    clock.advance(61)
    assert _whoami(new.sign(claims(["admin"]))).status_code == 200
    assert oidc.fetches == 4


def test_a_provider_outage_keeps_the_keys_already_known(settings, oidc, clock):
    settings.OIDC_JWKS_CACHE_SECONDS = 60
    token = oidc.key.sign(claims(["admin"]))
    assert _whoami(token).status_code == 200
    oidc.stop()
    clock.advance(61)
    assert _whoami(token).status_code == 200


def test_it_asks_a_provider_that_is_down_at_most_once_per_refetch_interval(
    settings, oidc, clock, caplog
):
    """PyJWKClient alone would call a provider that is down on every request once its set has
    expired, and would refuse every token meanwhile."""
    settings.OIDC_JWKS_CACHE_SECONDS = 60
    token = oidc.key.sign(claims(["admin"]))
    stranger = RsaKey.generate("key-3").sign(claims(["admin"]))
    assert _whoami(token).status_code == 200
    # The first fetch starts the cooldown too: an unknown kid right after it fetches nothing.
    assert _whoami(stranger).status_code == 401
    assert oidc.fetches == 1
    oidc.failing = True
    clock.advance(61)
    for _ in range(3):
        assert _whoami(token).status_code == 200  # the known key outlives its cache
        assert _whoami(stranger).status_code == 401
    assert oidc.fetches == 2
    assert "the provider answered 503" in caplog.text
    clock.advance(jwks.REFETCH_MIN_INTERVAL + 1)
    assert _whoami(token).status_code == 200
    assert oidc.fetches == 3
    # The provider is back: the next try takes its set, which is cached again.
    oidc.failing = False
    clock.advance(jwks.REFETCH_MIN_INTERVAL + 1)
    assert _whoami(token).status_code == 200
    assert _whoami(token).status_code == 200
    assert oidc.fetches == 4


def test_with_oidc_unset_a_jwt_is_an_unknown_token(settings, provider, studies, admin_token):
    settings.OIDC_JWKS_URL = ""
    _refused(provider.key.sign(claims(["admin"])))
    assert provider.fetches == 0
    # API tokens work the same either way.
    assert _release(Api(admin_token)).status_code == 201


def test_api_tokens_still_work_with_oidc_on(oidc, studies, user_token):
    assert _release(Api(user_token)).status_code == 201
    assert oidc.fetches == 0


@pytest.mark.parametrize("family", ["releases", "tracker", "scale", "flotilla"])
def test_every_family_resolves_jwts_through_the_shared_token_auth(oidc, family):
    good = Api(oidc.key.sign(claims(["dev"])))
    assert good.get(f"/_/{family}/whoami").json()["role"] == "dev"
    expired = Api(oidc.key.sign(claims(["dev"], exp=int(time.time()) - 120)))
    assert expired.get(f"/_/{family}/whoami").status_code == 401


def test_no_token_reaches_the_log(oidc, studies, caplog):
    caplog.set_level(logging.DEBUG)
    good = oidc.key.sign(claims(["admin"]))
    expired = oidc.key.sign(claims(["admin"], exp=int(time.time()) - 120))
    forged = RsaKey.generate(oidc.key.kid).sign(claims(["admin"]))
    for token in (good, expired, forged):
        _release(Api(token))
    assert "bearer JWT refused: ExpiredSignatureError" in caplog.text
    assert "bearer JWT refused: InvalidSignatureError" in caplog.text
    for token in (good, expired, forged):
        for part in token.split("."):
            assert part not in caplog.text


@pytest.mark.parametrize(
    "mallory_claims",
    [claims(["admin"]), claims(gty="client-credentials", sub="m2m@clients")],
    ids=["admin-role", "machine"],
)
def test_it_lets_no_jwt_admin_mint_list_or_revoke_api_tokens(oidc, admin_token, mallory_claims):
    """A JWT admin is an admin for as long as the JWT lives; it must not turn itself into an API
    token that never expires and that the provider cannot revoke."""
    mallory = Api(oidc.key.sign(mallory_claims))
    assert mallory.get("/_/releases/whoami").json()["role"] == "admin"
    alice = ApiToken.objects.get()
    for family in ("releases", "tracker", "scale", "flotilla"):
        minted = mallory.post(f"/_/{family}/tokens", {"role": "admin", "name": "forever"})
        assert minted.status_code == 403, minted.content
        assert "needs an API token, not a JWT" in minted.content.decode()
        assert mallory.get(f"/_/{family}/tokens").status_code == 403
        assert mallory.delete(f"/_/{family}/tokens/{alice.pk}").status_code == 403
    assert list(ApiToken.objects.values_list("pk", "revoked_at")) == [(alice.pk, None)]
    # Alice, holding an API token, still mints.
    assert Api(admin_token).post("/_/releases/tokens", {"role": "dev"}).status_code == 201


def test_it_refuses_a_machine_jwt_minted_for_another_api(oidc, studies):
    """The attack of issue 7 item 2: a client-credentials token the same tenant issued for
    another API is no credential here at all."""
    other_api = claims(gty="client-credentials", sub="m2m@other", aud="https://billing.example")
    token = oidc.key.sign(other_api)
    _refused(token)
    assert Api(token).post("/_/releases/tokens", {"role": "admin"}).status_code == 401
    assert not ApiToken.objects.exists() and not Release.objects.exists()
