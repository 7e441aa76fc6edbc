"""Spec §11.1 end to end over HTTP with a real worker: push mode."""

from __future__ import annotations

import pytest

from domain.releases.models import Task
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_push_release_runs_stages_and_publishes(coordinator, standin):
    svc = standin(mode="manual", name="Reports Task Service")
    registered = coordinator.register(svc, outbound_token="out-secret")
    assert "outbound_token" not in registered

    release = coordinator.create("first")
    kf_id = release["kf_id"]
    running = coordinator.wait_state(kf_id, "running")
    assert [t["state"] for t in running["tasks"]] == ["running"]
    assert running["tasks"][0]["progress"] == 0
    task_id = running["tasks"][0]["kf_id"]

    init = svc.actions("initialize")[0]
    assert init.body == {
        "action": "initialize",
        "task_id": task_id,
        "release_id": kf_id,
        "studies": ["SD_00000001"],
    }
    assert init.headers["Authorization"] == "Bearer out-secret"
    assert "Regatta" in init.headers["User-Agent"]
    wait_until(lambda: svc.actions("start"), message="start sent")

    assert svc.patch(task_id, {"progress": "50%"}).status_code == 200
    assert coordinator.get(f"/tasks/{task_id}")["progress"] == 50
    assert svc.patch(task_id, {"state": "staged", "progress": 100}).status_code == 200
    assert coordinator.release(kf_id)["state"] == "staged"

    resp = coordinator.call("POST", f"/releases/{kf_id}/publish")
    assert resp.json() == {"message": "publishing"}
    wait_until(lambda: svc.actions("publish"), message="publish sent")
    assert svc.patch(task_id, {"state": "published"}).status_code == 200
    published = coordinator.release(kf_id)
    assert published["state"] == "published"
    assert published["version"] == "0.1.0"

    messages = [e["message"] for e in reversed(coordinator.events(release=kf_id))]
    assert messages == [
        f"release {kf_id}, version 0.0.0 changed from waiting to initializing",
        f"task {task_id} changed from waiting to initialized",
        f"release {kf_id}, version 0.0.0 changed from initializing to running",
        f"task {task_id} changed from initialized to running",
        f"task {task_id} changed from running to staged",
        f"release {kf_id}, version 0.0.0 changed from running to staged",
        f"release {kf_id}, version 0.0.0 changed from staged to publishing",
        f"task {task_id} changed from staged to publishing",
        f"task {task_id} changed from publishing to published",
        f"release {kf_id}, version 0.1.0 changed from publishing to published",
    ]
    study = coordinator.get("/studies/SD_00000001")
    assert study["last_pub_version"] == "0.1.0"
    assert study["last_pub_date"] == release["created_at"]


def test_a_service_reporting_pending_initializes_its_waiting_task(coordinator, standin):
    """Every initialize call hangs past the client's timeout, so only the service's own PATCH
    `pending` can initialize the task; the release then starts as usual."""
    svc = standin(mode="manual", hang_seconds=5)
    coordinator.register(svc)
    svc.fail["initialize"] = "hang"
    kf_id = coordinator.create()["kf_id"]
    wait_until(lambda: svc.hanging(), message="initialize in flight")
    task = Task.objects.get(release_id=kf_id)
    assert task.state == "waiting"
    resp = svc.patch(task.kf_id, {"state": "pending"})
    assert resp.status_code == 200
    assert resp.json()["state"] == "initialized"
    svc.fail.clear()
    running = coordinator.wait_state(kf_id, "running")
    assert [t["state"] for t in running["tasks"]] == ["running"]
    messages = [e["message"] for e in coordinator.events(release=kf_id)]
    assert f"task {task.kf_id} changed from waiting to initialized" in messages
