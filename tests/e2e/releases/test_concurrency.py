"""Races the original lost: concurrent last reports, and a worker killed mid-flight."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.common.models import TransitionLog
from domain.releases.models import Event, Release, Task
from tests.support.processes import run_concurrently, start_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_a_worker_killed_mid_flight_strands_no_release(
    coordinator, standin, subprocess_env, log_dir, releases_beat
):
    services = [standin(mode="push", name=f"svc {i}", push_delay=0.1) for i in range(2)]
    for svc in services:
        coordinator.register(svc)
    victim = start_worker(subprocess_env, log_dir, concurrency=2, name="victim")
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            futures = [pool.submit(coordinator.create, f"burst {i}") for i in range(20)]
            wait_until(
                lambda: sum(len(s.actions("initialize")) for s in services) >= 6,
                message="initialize calls under way",
            )
            victim.kill()
            # The victim really held work when it died.
            assert "Task releases." in victim.log()
            ids = [f.result()["kf_id"] for f in futures]
    finally:
        victim.stop()
    for kf_id in ids:
        release = coordinator.wait_state(kf_id, "staged", timeout=90)
        assert [t["state"] for t in release["tasks"]] == ["staged", "staged"]
        assert _release_moves(kf_id, "staged") == 1
        assert _events(kf_id, "changed from running to staged") == 1
    illegal = Release.objects.filter(pk__in=ids).exclude(state="staged")
    assert not illegal.exists()
