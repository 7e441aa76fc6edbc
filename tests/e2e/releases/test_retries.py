"""OUTBOUND_RETRIES counts attempts across a batch and the one-task step that takes over.

The default (2 retries) is exercised on the session's workers; OUTBOUND_RETRIES=0 needs workers
started with it, so those tests run an isolated stack on its own Redis db.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _error_messages(coordinator, kf_id: str, prefix: str) -> list[str]:
    return [
        e["message"] for e in coordinator.events(release=kf_id) if e["message"].startswith(prefix)
    ]


@pytest.mark.parametrize("failure", ["500", "refuse"])
def test_zero_retries_fails_a_start_at_the_first_transient_failure(
    isolated_stack, standin, failure
):
    stack = isolated_stack(OUTBOUND_RETRIES="0")
    stack.worker("no-retries")
    coordinator = stack.coordinator
    svc = standin(mode="manual")
    coordinator.register(svc)
    svc.fail["start"] = failure
    kf_id = coordinator.create()["kf_id"]
    done = coordinator.wait_state(kf_id, "failed", timeout=40)
    assert [t["state"] for t in done["tasks"]] == ["failed"]
    assert len(svc.actions("start")) == 1
    assert len(_error_messages(coordinator, kf_id, "request to start task failed")) == 1


def test_zero_retries_fails_a_publish_at_the_first_500(isolated_stack, standin):
    stack = isolated_stack(OUTBOUND_RETRIES="0")
    stack.worker("no-retries")
    coordinator = stack.coordinator
    svc = standin(mode="push")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    coordinator.wait_state(kf_id, "staged")
    svc.fail["publish"] = "500"
    assert coordinator.call("POST", f"/releases/{kf_id}/publish").status_code == 200
    done = coordinator.wait_state(kf_id, "failed", timeout=40)
    assert [t["state"] for t in done["tasks"]] == ["failed"]
    assert len(svc.actions("publish")) == 1


def test_zero_retries_fails_a_status_poll_at_the_first_500(isolated_stack, standin):
    # No beat in this stack: the one poll is the compatibility trigger's.
    stack = isolated_stack(OUTBOUND_RETRIES="0")
    stack.worker("no-retries")
    coordinator = stack.coordinator
    svc = standin(mode="manual")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    task_id = coordinator.wait_started(kf_id)
    svc.fail["get_status"] = "500"
    assert coordinator.call("POST", "/tasks/status_checks").status_code == 200
    done = coordinator.wait_state(kf_id, "failed", timeout=40)
    assert [t["state"] for t in done["tasks"]] == ["failed"]
    assert svc.task_ids("get_status") == [task_id]


@pytest.mark.parametrize(("fail_times", "outcome"), [(2, "staged"), (None, "failed")])
def test_default_retries_give_a_start_three_attempts(coordinator, standin, fail_times, outcome):
    svc = standin(mode="push")
    coordinator.register(svc)
    svc.fail["start"], svc.fail_times["start"] = "500", fail_times
    kf_id = coordinator.create()["kf_id"]
    done = coordinator.wait_state(kf_id, outcome, timeout=40)
    # The batch's attempt and OUTBOUND_RETRIES=2 retries: three in all, whatever the outcome.
    assert len(svc.actions("start")) == 3
    assert [t["state"] for t in done["tasks"]] == [outcome]
