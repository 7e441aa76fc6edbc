"""32 worker processes pull 20,000 tasks through the HTTP API of a multi-process gunicorn.

Every task must be closed exactly once: none lost, none assigned twice. Assignment relies on
`FOR UPDATE SKIP LOCKED` and no lock shared between the web processes.
"""

from __future__ import annotations

import json

import pytest
import requests

from domain.tracker.counters import project_closed_count, worker_closed_count
from domain.tracker.models import Task
from tests.support.processes import run_concurrently, start_web

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.long(5)]

WORKERS = 32
TASKS = 20_000


def _post(url: str, path: str, body: dict, session=requests, **headers):
    reply = session.post(url + path, data=json.dumps(body).encode(), headers=headers, timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _worker(url: str, alias: str) -> dict:
    return _post(url, "/worker/create", {"alias": alias})["content"]["worker"]


@pytest.fixture
def web(subprocess_env, log_dir, redis_client):
    proc = start_web(subprocess_env, log_dir, workers=4)
    yield proc.info["url"]
    proc.stop()


# 40,000 requests on a machine shared with other test files: minutes, not the default limit.
@pytest.mark.timeout(900)
def test_32_workers_drain_20000_tasks_each_closed_exactly_once(web, subprocess_env):
    manager = requests.Session()
    _post(web, "/register", {"username": "alice", "password": "correct horse"}, manager)
    project = _post(web, "/project/create", {"name": "swarm", "public": True}, manager)
    project = project["content"]["id"]
    producer = _worker(web, "producer")
    auth = {"X-Worker-Id": str(producer["id"]), "X-Secret": producer["secret"]}
    _post(web, "/project/request_access", {"submit": True, "project": project}, **auth)
    _post(web, f"/project/accept_request/{project}/{producer['id']}", {}, manager)
    items = [{"project": project, "recipe": f"task {i}", "priority": i % 7} for i in range(TASKS)]
    reply = _post(web, "/task/bulk_submit", {"requests": items}, **auth)
    assert reply["content"] == {"inserted": TASKS, "duplicates": 0}
    submitted = set(Task.objects.filter(project_id=project).values_list("id", flat=True))
    assert len(submitted) == TASKS

    drones = [_worker(web, f"drone {i}") for i in range(WORKERS)]
    calls = [
        {"url": web, "worker_id": d["id"], "secret": d["secret"], "project": project}
        for d in drones
    ]
    results = run_concurrently("tests.e2e.tracker_drain:drain", calls, subprocess_env, timeout=600)

    assigned = [task for r in results for task in r["assigned"]]
    closed = [task for r in results for task in r["closed"]]
    assert len(assigned) == len(set(assigned)) == TASKS, "a task was assigned twice"
    assert len(closed) == len(set(closed)) == TASKS, "a task was closed twice or not at all"
    assert set(closed) == submitted
    assert not Task.objects.filter(project_id=project).exists()
    assert project_closed_count(project_id=project) == TASKS
    per_worker = [worker_closed_count(worker_id=d["id"]) for d in drones]
    assert per_worker == [len(r["closed"]) for r in results]
    # The load was shared: more than one process got work.
    assert sum(1 for n in per_worker if n) > 1


def _setup_project(web: str, **fields) -> tuple[requests.Session, int, dict]:
    manager = requests.Session()
    _post(web, "/register", {"username": "alice", "password": "correct horse"}, manager)
    body = {"name": "shared", "public": True, **fields}
    project = _post(web, "/project/create", body, manager)["content"]["id"]
    worker = _worker(web, "producer")
    auth = {"X-Worker-Id": str(worker["id"]), "X-Secret": worker["secret"]}
    _post(web, "/project/request_access", {"submit": True, "project": project}, **auth)
    _post(web, f"/project/accept_request/{project}/{worker['id']}", {}, manager)
    items = [{"project": project, "recipe": str(i)} for i in range(20)]
    _post(web, "/task/bulk_submit", {"requests": items}, **auth)
    return manager, project, auth


def test_rate_limit_holds_across_web_processes(web):
    # One assign per 100 s: however the requests spread over the 4 processes, one gets a task.
    _, project, auth = _setup_project(web, assign_rate=0.01)
    replies = [
        requests.get(f"{web}/task/get/{project}", headers=auth, timeout=10) for _ in range(12)
    ]
    assert sorted(r.status_code for r in replies) == [200] + [429] * 11
    delays = [r.json()["rate_limit_delay"] for r in replies if r.status_code == 429]
    assert all(0 < d <= 100 for d in delays)


def test_pause_takes_effect_at_once_in_every_process(web):
    manager, project, auth = _setup_project(web)
    drone = _worker(web, "drone")
    headers = {"X-Worker-Id": str(drone["id"]), "X-Secret": drone["secret"]}
    assert requests.get(f"{web}/task/get/{project}", headers=headers, timeout=10).json()["ok"]
    _post(web, "/worker/set_paused", {"worker": drone["id"], "paused": True}, manager)
    replies = [
        requests.get(f"{web}/task/get/{project}", headers=headers, timeout=10) for _ in range(12)
    ]
    assert {r.status_code for r in replies} == {400}
    assert {r.json()["message"] for r in replies} == {"A manager has paused you"}
