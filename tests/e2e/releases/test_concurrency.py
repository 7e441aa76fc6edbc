"""Races the original lost: concurrent last reports, and a worker killed mid-flight."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.common.models import TransitionLog
from domain.releases.models import Event, Release, Task
from tests.support.processes import control_app, run_concurrently, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.long(2.5)]


def _release_moves(kf_id: str, target: str) -> int:
    return TransitionLog.objects.filter(
        aggregate="releases.release", aggregate_id=kf_id, target=target
    ).count()


def _events(kf_id: str, fragment: str) -> int:
    return Event.objects.filter(
        release_id=kf_id, message__startswith=f"release {kf_id},", message__endswith=fragment
    ).count()


def test_concurrent_last_reports_make_exactly_one_release_transition(
    coordinator, standin, subprocess_env
):
    a, b = standin(mode="manual", name="a"), standin(mode="manual", name="b")
    coordinator.register(a)
    coordinator.register(b)
    ids = [coordinator.create(f"race {i}")["kf_id"] for i in range(4)]
    tasks = {}
    for kf_id in ids:
        running = coordinator.wait_state(kf_id, "running")
        tasks[kf_id] = {t["service_name"]: t["kf_id"] for t in running["tasks"]}
    wait_until(
        lambda: not Task.objects.filter(release_id__in=ids).exclude(pending_action="").exists(),
        message="every start acknowledged",
    )
    token = {"a": a.token, "b": b.token}

    def calls(state: str) -> list[dict]:
        return [
            {
                "url": coordinator.url,
                "token": token[name],
                "task_id": task_id,
                "body": {"state": state, "progress": 100},
            }
            for kf_id in ids
            for name, task_id in tasks[kf_id].items()
        ]

    statuses = run_concurrently(
        "tests.support.task_service:patch_task", calls("staged"), subprocess_env
    )
    assert statuses == [200] * len(statuses)
    for kf_id in ids:
        assert Release.objects.get(pk=kf_id).state == "staged"
        assert _release_moves(kf_id, "staged") == 1
        assert _events(kf_id, "changed from running to staged") == 1

    for kf_id in ids:
        assert coordinator.call("POST", f"/releases/{kf_id}/publish").status_code == 200
    wait_until(
        lambda: not Task.objects.filter(release_id__in=ids).exclude(pending_action="").exists(),
        message="every publish acknowledged",
    )
    statuses = run_concurrently(
        "tests.support.task_service:patch_task", calls("published"), subprocess_env
    )
    assert statuses == [200] * len(statuses)
    for kf_id in ids:
        release = Release.objects.get(pk=kf_id)
        assert release.state == "published"
        assert _release_moves(kf_id, "published") == 1
        assert _events(kf_id, "changed from publishing to published") == 1


def _assert_staged_once(coordinator, ids: list[str], timeout: float = 120) -> None:
    for kf_id in ids:
        release = coordinator.wait_state(kf_id, "staged", timeout=timeout)
        assert {t["state"] for t in release["tasks"]} == {"staged"}
        assert _release_moves(kf_id, "staged") == 1
        assert _events(kf_id, "changed from running to staged") == 1
    assert not Release.objects.filter(pk__in=ids).exclude(state="staged").exists()


def test_a_worker_killed_in_the_middle_of_calls_strands_no_release(
    isolated_stack, standin, tmp_path
):
    """The victim is the only worker of its stack, and every initialize hangs: when SIGKILL lands,
    both its processes are certainly inside a call. The reconciler re-drives what died with it."""
    # A long client timeout keeps the victim's processes inside the hanging calls.
    stack = isolated_stack(OUTBOUND_TIMEOUT="30")
    stack.beat(tmp_path / "beat")
    coordinator = stack.coordinator
    services = [standin(mode="push", name=f"svc {i}", hang_seconds=60) for i in range(2)]
    for svc in services:
        coordinator.register(svc)
        svc.fail["initialize"] = "hang"
    victim = stack.worker("victim", concurrency=2)
    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = [r["kf_id"] for r in pool.map(lambda i: coordinator.create(f"burst {i}"), range(20))]
    wait_until(
        lambda: sum(s.hanging() for s in services) >= 2,
        timeout=60,
        message="both victim processes inside an initialize call",
    )
    victim.kill()
    assert not victim.alive()
    # The calls in flight died with the victim; from now on the services answer at once.
    assert sum(s.hanging() for s in services) >= 2
    for svc in services:
        svc.fail.clear()
    stack.worker("rescuer", concurrency=2)
    _assert_staged_once(coordinator, ids)


def test_a_broker_flush_mid_lifecycle_strands_no_release(isolated_stack, standin, tmp_path):
    """A real FLUSHDB of the broker (and result backend) while releases are mid-lifecycle: some
    running and waiting for their services, some whose first message sits in Redis unconsumed.
    The reconciler brings every one of them to staged from what Postgres holds."""
    stack = isolated_stack()
    stack.beat(tmp_path / "beat")
    worker = stack.worker("flushed", concurrency=2)
    coordinator = stack.coordinator
    services = [standin(mode="manual", name=f"svc {i}") for i in range(2)]
    for svc in services:
        coordinator.register(svc)
    running = [coordinator.create(f"running {i}")["kf_id"] for i in range(2)]
    for kf_id in running:
        coordinator.wait_state(kf_id, "running")
    wait_until(
        lambda: not Task.objects.filter(release_id__in=running).exclude(pending_action="").exists(),
        message="every start acknowledged",
    )
    # Stop consuming so the next releases' first messages are certainly still in Redis.
    control = control_app(stack.env).control
    node = [worker.info["hostname"]]
    for queue in ("default", "outbound"):
        control.cancel_consumer(queue, destination=node, reply=True, timeout=10)
    queued = [coordinator.create(f"queued {i}")["kf_id"] for i in range(3)]
    wait_until(lambda: stack.broker.llen("default") >= 3, message="prepare messages queued")
    assert set(Release.objects.filter(pk__in=queued).values_list("state", flat=True)) == {"waiting"}

    stack.broker.flushdb()
    assert stack.broker.dbsize() == 0

    for queue in ("default", "outbound"):
        control.add_consumer(queue, destination=node, reply=True, timeout=10)
    for svc in services:
        svc.mode = "push"  # the queued releases' starts are answered with a staged PATCH
        for task_id in svc.task_ids("start"):
            svc.set_state(task_id, "staged", 100)  # the running ones are seen by the poll
    _assert_staged_once(coordinator, running + queued)
    # Nothing of the queued releases survived the flush: only the reconciler moved them.
    assert not Release.objects.filter(pk__in=queued, redriven_at__isnull=True).exists()
