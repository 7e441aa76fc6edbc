"""Rate limits (spec §2.9 and the QUIRK fixes): Redis buckets, accurate delays, bulk reserves N."""

from __future__ import annotations

import pytest

from tests.api.tracker.conftest import grant, make_project, submit

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


def test_no_task_available_refunds_the_token(admin, setup):
    slow = make_project(admin, "slow", assign_rate=0.001, submit_rate=0.001)
    grant(admin, setup.worker, slow)
    assert setup.worker.get(f"/task/get/{slow}").json() == {
        "ok": False,
        "message": "No task available",
    }
    assert submit(setup.worker, slow).json() == {"ok": True}
    assert setup.worker.get(f"/task/get/{slow}").json()["ok"] is True


def test_failed_submit_refunds_the_token(tt, admin):
    from tests.api.tracker.conftest import make_worker

    slow = make_project(admin, "slow", submit_rate=0.001)
    worker = make_worker(tt)
    assert submit(worker, slow).json() == {"ok": False, "message": "unauthorized task submit"}
    grant(admin, worker, slow)
    # Had the refused submit kept its token, this one would wait ~1000 s.
    assert submit(worker, slow).json() == {"ok": True}
    assert submit(worker, slow).status_code == 429


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
