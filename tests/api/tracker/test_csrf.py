"""Issue 7 item 4: the manager session is refused to cross-origin browser requests.

Alice is the tracker admin, logged in in her browser; Mallory runs another site (or a sibling
subdomain). A request "from Mallory's page" carries Alice's cookie and the headers a browser
sets for such a request, which a page cannot forge.
"""

from __future__ import annotations

import pytest

from domain.tracker.models import Manager, Project, Task
from tests.api.tracker.conftest import (
    Setup,
    Tracker,
    grant,
    make_manager,
    make_project,
    submit,
)

pytestmark = pytest.mark.django_db(transaction=True)

REFUSED = {"ok": False, "message": "Cross-origin request refused"}
EVIL = "http://evil.example"
TRUSTED = "https://ui.example.com"


def with_cookies_of(manager: Tracker, **headers: str) -> Tracker:
    """A request Alice's browser sends for another page: her cookie, that page's headers."""
    page = Tracker(manager.base)
    page.session.cookies.update(manager.session.cookies)
    page.session.headers.update(headers)
    return page


def manager_id(manager: Tracker) -> int:
    return manager.get("/account").json()["content"]["manager"]["id"]


@pytest.fixture
def mallory(tt, admin) -> Tracker:
    return make_manager(tt, "mallory")


# A link to /manager/promote opened by Alice: from Mallory's site, from a mail client or the
# address bar (Sec-Fetch-Site: none), or by a browser too old to send Sec-Fetch-Site with the
# referrer suppressed (no headers at all), or from a sibling subdomain Mallory controls.
LINKS = {
    "cross-site link": {"Sec-Fetch-Site": "cross-site", "Referer": EVIL + "/"},
    "mail client": {"Sec-Fetch-Site": "none"},
    "old browser, no referrer": {},
    "old browser, referrer": {"Referer": EVIL + "/page"},
    "sibling subdomain": {"Sec-Fetch-Site": "same-site", "Referer": "http://evil.localhost/"},
    "cross-origin fetch": {"Sec-Fetch-Site": "cross-site", "Origin": EVIL},
}


@pytest.mark.parametrize("headers", LINKS.values(), ids=LINKS.keys())
def test_it_refuses_a_promote_link_alice_opens_from_elsewhere(admin, mallory, headers):
    link = with_cookies_of(admin, **headers)
    reply = link.get(f"/manager/promote/{manager_id(mallory)}")
    assert (reply.status_code, reply.json()) == (403, REFUSED)
    assert Manager.objects.get(user__username="mallory").tracker_admin is False


def test_it_refuses_a_demote_link_alice_opens_from_elsewhere(tt, admin):
    bob = make_manager(tt, "bob")
    assert admin.get(f"/manager/promote/{manager_id(bob)}").status_code == 204
    link = with_cookies_of(admin, **LINKS["cross-site link"])
    assert link.get(f"/manager/demote/{manager_id(bob)}").status_code == 403
    assert Manager.objects.get(user__username="bob").tracker_admin is True


SAME_ORIGIN_PAGES = {
    "fetch metadata": lambda base: {"Sec-Fetch-Site": "same-origin"},
    "referrer only": lambda base: {"Referer": base + "/managers"},
    "origin only": lambda base: {"Origin": base},
}


@pytest.mark.parametrize("headers", SAME_ORIGIN_PAGES.values(), ids=SAME_ORIGIN_PAGES.keys())
def test_it_lets_alices_own_page_promote(admin, mallory, headers):
    page = with_cookies_of(admin, **headers(admin.base))
    assert page.get(f"/manager/promote/{manager_id(mallory)}").status_code == 204
    assert Manager.objects.get(user__username="mallory").tracker_admin is True


# Every write the manager session authorises, with a body that would succeed from Alice's page.
def _session_writes(setup: Setup) -> list[tuple[str, dict | None]]:
    p, w = setup.project, setup.worker.worker_id
    return [
        ("/project/create", {"name": "evil", "public": True, "assign_rate": 0}),
        (f"/project/update/{p}", {"name": "renamed", "version": "evil"}),
        (f"/project/accept_request/{p}/{w}", None),
        (f"/project/reject_request/{p}/{w}", None),
        (f"/project/secret/{p}", {"secret": "evil"}),
        (f"/project/webhook_secret/{p}", {"webhook_secret": "evil"}),
        (f"/project/reset_failed_tasks/{p}", None),
        (f"/project/hard_reset/{p}", None),
        (f"/project/reclaim_assigned_tasks/{p}", None),
        (f"/manager/set_role_for_project/{p}", {"manager": 1, "role": 0}),
        ("/worker/set_paused", {"worker": w, "paused": True}),
        ("/register", {"username": "mallory2", "password": "correct horse"}),
        ("/login", {"username": "alice", "password": "correct horse"}),
    ]


FORGED_POSTS = {
    "cross-site form": {"Sec-Fetch-Site": "cross-site", "Origin": EVIL},
    "sibling subdomain": {"Sec-Fetch-Site": "same-site", "Origin": "http://evil.localhost"},
    "old browser": {"Origin": EVIL},
    "sandboxed frame": {"Origin": "null"},
}


@pytest.mark.parametrize("headers", FORGED_POSTS.values(), ids=FORGED_POSTS.keys())
def test_it_refuses_every_cross_origin_session_write(setup, headers):
    submit(setup.worker, setup.project)
    project = Project.objects.filter(pk=setup.project).values().get()
    forged = with_cookies_of(setup.admin, **headers)
    wrong = []
    for path, body in _session_writes(setup):
        reply = forged.post(path, body)
        if (reply.status_code, reply.json()) != (403, REFUSED):
            wrong.append((path, reply.status_code, reply.text))
    assert wrong == []
    assert Project.objects.filter(pk=setup.project).values().get() == project
    assert Project.objects.filter(name="evil").exists() is False
    assert Task.objects.count() == 1
    assert Manager.objects.filter(user__username="mallory2").exists() is False
    assert setup.worker.get(f"/task/get/{setup.project}").json()["ok"] is True


def test_it_does_not_log_alice_into_mallorys_account_from_mallorys_page(tt, admin, mallory):
    page = Tracker(tt.base)
    page.session.headers.update(FORGED_POSTS["cross-site form"])
    reply = page.post("/login", {"username": "mallory", "password": "correct horse"})
    assert (reply.status_code, reply.json()) == (403, REFUSED)
    assert "sessionid" not in page.session.cookies


def test_it_lets_alices_page_and_her_scripts_write(tt, admin):
    # Her page (the UI's XHR) and a script sending no browser headers, as before.
    assert make_project(admin, "from the page") > 0
    script = with_cookies_of(admin)
    assert script.post("/project/create", {"name": "from a script"}).json()["ok"] is True
    assert with_cookies_of(admin, **{"Sec-Fetch-Site": "none"}).get("/logout").status_code == 204


def test_it_refuses_a_logout_link_from_another_site(admin):
    link = with_cookies_of(admin, **LINKS["cross-site link"])
    assert link.get("/logout").status_code == 403
    assert admin.get("/account").json()["content"]["logged_in"] is True


def test_it_trusts_the_origins_in_csrf_trusted_origins(settings, tt, admin, mallory):
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED, "https://*.example.org"]
    for origin in (TRUSTED, "https://tt.example.org"):
        page = with_cookies_of(admin, **{"Sec-Fetch-Site": "cross-site", "Origin": origin})
        reply = page.post("/project/create", {"name": origin})
        assert reply.json()["ok"] is True, reply.text
    page = with_cookies_of(admin, **{"Sec-Fetch-Site": "cross-site", "Origin": TRUSTED})
    assert page.get(f"/manager/promote/{manager_id(mallory)}").status_code == 204
    # Another scheme is another origin.
    plain = TRUSTED.replace("https:", "http:")
    page = with_cookies_of(admin, **{"Sec-Fetch-Site": "cross-site", "Origin": plain})
    assert page.post("/project/create", {"name": "plain http"}).status_code == 403


def test_it_keeps_worker_header_and_bearer_token_writes_exempt(tt, setup, admin_token):
    # A drone running in a browser page elsewhere authenticates with its headers, not a cookie.
    drone = Tracker(tt.base, setup.worker.worker_id, setup.worker.secret)
    drone.session.headers.update(FORGED_POSTS["cross-site form"])
    drone.session.cookies.update(setup.admin.session.cookies)
    assert submit(drone, setup.project).json() == {"ok": True}
    grant(setup.admin, drone, make_project(setup.admin, "second"))
    reply = drone.session.post(
        tt.base + "/_/tracker/tokens",
        json={"role": "user", "name": "from a page"},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    assert reply.status_code in (200, 201), reply.text
