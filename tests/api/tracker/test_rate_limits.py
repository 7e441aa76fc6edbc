"""Rate limits (spec §2.9 and the QUIRK fixes): Redis buckets, accurate delays, bulk reserves N."""

from __future__ import annotations

import pytest

from domain.tracker.queue import DUPLICATE_MESSAGE
from tests.api.tracker.conftest import grant, make_project, make_worker, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def limited(setup):
    """The setup project with 2 assigns and 2 submits per second."""
    project = setup.worker.get(f"/project/get/{setup.project}")
    body = {**project.json()["content"]["project"], "assign_rate": 2, "submit_rate": 2}
    assert setup.admin.post(f"/project/update/{setup.project}", body).json() == {"ok": True}
    return setup


def test_assign_rate_limit(limited):
    for i in range(3):
        submit(limited.worker, limited.project, recipe=str(i))
    replies = [limited.worker.get(f"/task/get/{limited.project}") for _ in range(3)]
    assert replies[0].json()["ok"] is True
    assert replies[2].status_code == 429
    body = replies[2].json()
    assert (body["ok"], body["message"]) == (False, "Too many requests")
    # Burst 1 at 2/s: the wait is at most half a second, never the original's "infinity".
    assert 0 < body["rate_limit_delay"] <= 0.5


def test_submit_rate_limit(limited):
    assert submit(limited.worker, limited.project, recipe="a").json() == {"ok": True}
    reply = submit(limited.worker, limited.project, recipe="b")
    assert reply.status_code == 429
    assert 0 < reply.json()["rate_limit_delay"] <= 0.5


def test_it_answers_the_third_of_three_rapid_gets_on_an_empty_project_with_429(limited):
    # The original never gives a granted assign token back (Go's Reservation.CancelAt restores
    # nothing once its time to act has passed), so polling an empty project is limited too.
    replies = [limited.worker.get(f"/task/get/{limited.project}") for _ in range(3)]
    assert replies[0].json() == {"ok": False, "message": "No task available"}
    assert replies[2].status_code == 429
    body = replies[2].json()
    assert (body["ok"], body["message"]) == (False, "Too many requests")
    assert 0 < body["rate_limit_delay"] <= 0.5


def test_it_keeps_the_token_of_a_duplicate_submit(setup):
    assert submit(setup.worker, setup.project, hash_u64=7).json() == {"ok": True}
    project = setup.worker.get(f"/project/get/{setup.project}").json()["content"]["project"]
    body = {**project, "submit_rate": 2}
    assert setup.admin.post(f"/project/update/{setup.project}", body).json() == {"ok": True}
    duplicate = submit(setup.worker, setup.project, hash_u64=7)
    assert (duplicate.status_code, duplicate.json()["message"]) == (400, DUPLICATE_MESSAGE)
    reply = submit(setup.worker, setup.project, hash_u64=8)
    assert reply.status_code == 429
    assert 0 < reply.json()["rate_limit_delay"] <= 0.5


def test_it_takes_no_token_for_a_submit_without_access(tt, admin):
    slow = make_project(admin, "slow", submit_rate=0.001)
    worker = make_worker(tt)
    assert submit(worker, slow).json() == {"ok": False, "message": "unauthorized task submit"}
    grant(admin, worker, slow)
    # Had the refused submit taken a token, this one would wait ~1000 s.
    assert submit(worker, slow).json() == {"ok": True}
    assert submit(worker, slow).status_code == 429


def test_it_judges_mallorys_access_before_the_projects_rate_limit(tt, limited):
    # Walter (the setup worker) has just spent the project's tokens; Mallory has no access.
    walter, mallory = limited.worker, make_worker(tt, "mallory")
    assert submit(walter, limited.project, recipe="w").json() == {"ok": True}
    assert walter.get(f"/task/get/{limited.project}").json()["ok"] is True
    reply = submit(mallory, limited.project)
    assert (reply.status_code, reply.json()) == (
        400,
        {"ok": False, "message": "unauthorized task submit"},
    )
    reply = mallory.get(f"/task/get/{limited.project}")
    assert (reply.status_code, reply.json()) == (
        200,
        {"ok": False, "message": "No task available"},
    )
    items = [{"project": limited.project, "recipe": str(i)} for i in range(1000)]
    reply = mallory.post("/task/bulk_submit", {"requests": items})
    assert (reply.status_code, reply.json()["message"]) == (200, "unauthorized task submit")


def test_it_never_lets_mallory_spend_the_tokens_of_walter(tt, admin, setup):
    slow = make_project(admin, "slow", assign_rate=0.001, submit_rate=0.001)
    grant(admin, setup.worker, slow)
    walter, mallory = setup.worker, make_worker(tt, "mallory")
    for _ in range(3):
        assert mallory.get(f"/task/get/{slow}").json()["message"] == "No task available"
        assert submit(mallory, slow).status_code == 400
        items = [{"project": slow, "recipe": "m"}] * 100
        assert mallory.post("/task/bulk_submit", {"requests": items}).status_code == 200
    assert submit(walter, slow).json() == {"ok": True}
    assert walter.get(f"/task/get/{slow}").json()["ok"] is True


def test_invalid_project_never_gets_a_delay(setup):
    for _ in range(3):
        reply = setup.worker.get("/task/get/99999999")
        assert reply.status_code == 404
        assert "rate_limit_delay" not in reply.json()
        reply = submit(setup.worker, 99999999)
        assert reply.status_code == 404


def test_bulk_submit_reserves_n_tokens_and_reports_the_real_wait(admin, setup):
    project = make_project(admin, "bulk", submit_rate=10)
    grant(admin, setup.worker, project)
    items = [{"project": project, "recipe": str(i)} for i in range(5)]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.json() == {"ok": True, "content": {"inserted": 5, "duplicates": 0}}
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.status_code == 429
    # Five tokens at 10/s: about half a second of debt, not 9223372036 s.
    assert 0.3 < reply.json()["rate_limit_delay"] <= 0.5


def test_update_drops_the_buckets(limited):
    submit(limited.worker, limited.project, recipe="a")
    assert submit(limited.worker, limited.project, recipe="b").status_code == 429
    project = limited.worker.get(f"/project/get/{limited.project}").json()["content"]["project"]
    limited.admin.post(f"/project/update/{limited.project}", project)
    assert submit(limited.worker, limited.project, recipe="c").json() == {"ok": True}
