"""Poll mode, service selection, health checks, timeouts and the reconciler, with beat running."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from domain.releases.models import Release, Study, Task, TaskService
from orchestrator.tasks.releases import health_check, sweep_timeouts
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_poll_mode_stages_and_publishes_without_any_push(coordinator, standin, releases_beat):
    svc = standin(mode="poll")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    staged = coordinator.wait_state(kf_id, "staged")
    assert staged["tasks"][0]["progress"] == 100
    assert not svc.push_results
    status_calls = svc.actions("get_status")
    assert status_calls and "studies" not in status_calls[0].body
    coordinator.call("POST", f"/releases/{kf_id}/publish")
    published = coordinator.wait_state(kf_id, "published")
    assert published["version"] == "0.1.0"


def test_get_status_sends_the_exact_body_and_headers(coordinator, standin):
    """Spec §11.6: the status check POSTs get_status with no studies, the service's outbound
    token as a bearer token and a User-Agent naming Regatta."""
    svc = standin(mode="manual")
    coordinator.register(svc, outbound_token="poll-secret")
    kf_id = coordinator.create()["kf_id"]
    task_id = coordinator.wait_started(kf_id)
    svc.set_state(task_id, "running", 30)
    assert coordinator.call("POST", "/tasks/status_checks").status_code == 200
    wait_until(lambda: svc.actions("get_status"), message="get_status sent")
    call = svc.actions("get_status")[0]
    assert call.method == "POST" and call.path == "/tasks"
    assert call.body == {"action": "get_status", "task_id": task_id, "release_id": kf_id}
    assert call.headers["Authorization"] == "Bearer poll-secret"
    assert call.headers["User-Agent"].startswith("Regatta/")
    assert call.headers["Content-Type"] == "application/json"
    wait_until(lambda: Task.objects.get(pk=task_id).progress == 30, message="progress stored")


def test_a_failed_status_reply_fails_the_release(coordinator, standin, releases_beat):
    svc = standin(mode="manual")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    task_id = coordinator.wait_started(kf_id)
    svc.set_state(task_id, "failed")
    done = coordinator.wait_state(kf_id, "failed")
    assert [t["state"] for t in done["tasks"]] == ["failed"]


def test_an_unreachable_service_during_polling_fails_the_release(
    coordinator, standin, releases_beat
):
    svc = standin(mode="manual")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    coordinator.wait_state(kf_id, "running")
    wait_until(lambda: svc.actions("start"))
    svc.stop()
    done = coordinator.wait_state(kf_id, "failed", timeout=40)
    assert [t["state"] for t in done["tasks"]] == ["failed"]
    messages = [e["message"] for e in coordinator.events(release=kf_id)]
    assert any(m.startswith("request to get status of task failed") for m in messages)


@pytest.mark.parametrize("services", ["none", "all disabled"])
def test_without_enabled_services_a_release_goes_straight_to_staged(coordinator, standin, services):
    if services == "all disabled":
        svc = standin(mode="manual")
        coordinator.register(svc, enabled=False)
    kf_id = coordinator.create()["kf_id"]
    staged = coordinator.wait_state(kf_id, "staged")
    assert staged["tasks"] == []
    assert len(coordinator.events(release=kf_id)) == 3
    if services == "all disabled":
        assert not svc.actions()


def test_only_enabled_services_get_tasks(coordinator, standin):
    on, off = standin(mode="push", name="on"), standin(mode="push", name="off")
    coordinator.register(on)
    coordinator.register(off, enabled=False)
    kf_id = coordinator.create()["kf_id"]
    staged = coordinator.wait_state(kf_id, "staged")
    assert [t["service_name"] for t in staged["tasks"]] == ["on"]
    assert not off.actions()


def test_health_checks_count_failures_until_down(coordinator, standin):
    svc = standin(mode="manual")
    service_id = coordinator.register(svc, outbound_token="hc-token")["kf_id"]
    svc.fail["status"] = "500"
    for _ in range(4):
        assert health_check.delay(service_id).get(timeout=30) is False
    service = coordinator.get(f"/task-services/{service_id}")
    assert service["last_ok_status"] == 4
    assert service["health_status"] == "down"
    checks = [c for c in svc.calls if c.path == "/status" and "Authorization" in c.headers]
    assert checks[0].headers["Authorization"] == "Bearer hc-token"
    svc.fail.clear()
    resp = coordinator.call("POST", "/task-services/health_checks")
    assert resp.json()["status"] == "ok"
    wait_until(lambda: TaskService.objects.get(pk=service_id).last_ok_status == 0)


def test_a_task_timeout_cancels_the_tasks_own_release(coordinator, standin):
    svc = standin(mode="manual")
    coordinator.register(svc)
    stuck = coordinator.create("stuck")["kf_id"]
    coordinator.wait_state(stuck, "running")
    Task.objects.filter(release_id=stuck).update(
        state_changed_at=timezone.now() - timedelta(hours=1)
    )
    fresh = coordinator.create("fresh")["kf_id"]
    coordinator.wait_state(fresh, "running")
    result = sweep_timeouts.delay(task_timeout=600, release_timeout=10**6).get(timeout=30)
    assert len(result["tasks"]) == 1
    coordinator.wait_state(stuck, "canceled")
    assert coordinator.release(fresh)["state"] == "running"


def test_a_release_timeout_cancels_it(coordinator, standin):
    svc = standin(mode="manual")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    coordinator.wait_state(kf_id, "running")
    old = timezone.now() - timedelta(hours=2)
    Release.objects.filter(pk=kf_id).update(state_changed_at=old)
    Task.objects.filter(release_id=kf_id).update(state_changed_at=old)
    sweep_timeouts.delay(task_timeout=10**6, release_timeout=3600).get(timeout=30)
    coordinator.wait_state(kf_id, "canceled")


def test_the_reconciler_redrives_a_release_whose_first_message_was_lost(
    coordinator, standin, releases_beat
):
    svc = standin(mode="push")
    coordinator.register(svc)
    # Written straight to Postgres: no message was ever enqueued, as after a Redis flush.
    release = Release.objects.create(name="lost", version="0.0.0")
    release.studies.set(Study.objects.filter(pk="SD_00000001"))
    coordinator.wait_state(release.kf_id, "staged", timeout=30)


def test_the_reconciler_resends_a_lost_start(coordinator, standin, releases_beat):
    svc = standin(mode="manual")
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    # Wait for the acknowledgement too: one landing after the line below would clear it again.
    task_id = coordinator.wait_started(kf_id)
    # Pretend the start message was lost before it reached the service.
    Task.objects.filter(release_id=kf_id).update(pending_action="start")
    svc.calls.clear()
    svc.mode = "push"
    coordinator.wait_state(kf_id, "staged", timeout=30)
    assert svc.task_ids("start") == [task_id]


def test_a_poll_that_hangs_past_the_timeout_is_retried_then_fails_the_release(
    coordinator, standin, releases_beat
):
    svc = standin(mode="manual", hang_seconds=2.5)
    coordinator.register(svc)
    kf_id = coordinator.create()["kf_id"]
    coordinator.wait_state(kf_id, "running")
    wait_until(lambda: svc.actions("start"))
    svc.fail["get_status"] = "hang"  # every answer comes after the 1 s client timeout
    done = coordinator.wait_state(kf_id, "failed", timeout=40)
    assert [t["state"] for t in done["tasks"]] == ["failed"]
    assert len(svc.actions("get_status")) >= 3  # the first try and OUTBOUND_RETRIES (2) retries
    messages = [e["message"] for e in coordinator.events(release=kf_id)]
    assert any("ReadTimeout" in m for m in messages if m.startswith("request to get status"))
