"""The families on the embedded default: `make run` with nothing configured (SQLite + Valkey).

One start of deploy/run.py for the module. The tracker is driven over HTTP as its public clients
drive it (raw JSON bodies, no Content-Type, X-Worker-Id/X-Secret), concurrent drones never share a
task, the beat sweeps run on the real worker, and a release goes through a task service to
published. The database is SQLite: the tracker's PostgreSQL-only SQL has SQLite bodies
(domain/tracker/sql/sqlite.py), and this is what proves them.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from celery import Celery

from tests.support.make_run import MakeRun, start_make_run, stop_make_run
from tests.support.processes import ROOT, run_concurrently, wait_until
from tests.support.task_service import TaskServiceStandIn

TR_OK, TR_FAIL, TR_SKIP = 0, 1, 2
DUPLICATE = 'pq: duplicate key value violates unique constraint "project_hash_unique"'
DRONES = 4
DRAIN_TASKS = 200

pytestmark = pytest.mark.long(2)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[MakeRun]:
    run = start_make_run(tmp_path_factory.mktemp("embedded"))
    try:
        health = requests.get(f"{run.url}/healthz", timeout=5).json()
        assert health["checks"]["database"]["vendor"] == "sqlite", health
        yield run
        # Stopped as Ctrl-C would: everything it started exits cleanly.
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=60) == 0, run.output()[-3000:]
    finally:
        stop_make_run(run)


# --- a tracker client as the public clients speak ----------------------------------------------


@dataclass
class Caller:
    """One HTTP caller: worker credentials or a manager's session cookie."""

    base: str
    worker_id: int | None = None
    secret: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def _headers(self) -> dict[str, str]:
        if self.worker_id is None:
            return {}
        return {"X-Worker-Id": str(self.worker_id), "X-Secret": str(self.secret)}

    def post(self, path: str, body: Any = None, status: int = 200) -> dict:
        # bytes, not json=: the clients send no Content-Type.
        data = json.dumps(body if body is not None else {}).encode()
        reply = self.session.post(self.base + path, data=data, headers=self._headers(), timeout=30)
        assert "Content-Type" not in reply.request.headers
        assert reply.status_code == status, (path, reply.status_code, reply.text)
        return reply.json()

    def get(self, path: str, status: int = 200) -> dict:
        reply = self.session.get(self.base + path, headers=self._headers(), timeout=30)
        assert reply.status_code == status, (path, reply.status_code, reply.text)
        return reply.json()


def manager(base: str, username: str) -> Caller:
    caller = Caller(base)
    assert caller.post("/register", {"username": username, "password": "correct horse"}) == {
        "ok": True
    }
    return caller


def worker(base: str, alias: str) -> Caller:
    created = Caller(base).post("/worker/create", {"alias": alias})["content"]["worker"]
    return Caller(base, created["id"], created["secret"])


def project(owner: Caller, name: str, **fields: Any) -> int:
    body = {"name": name, "version": "1.0", "motd": "hi", "priority": 1, **fields}
    return owner.post("/project/create", body)["content"]["id"]


def grant(owner: Caller, drone: Caller, project_id: int) -> None:
    body = {"assign": True, "submit": True, "project": project_id}
    assert drone.post("/project/request_access", body) == {"ok": True}
    assert owner.post(f"/project/accept_request/{project_id}/{drone.worker_id}") == {"ok": True}


def submit(drone: Caller, project_id: int, recipe: str, status: int = 200, **fields: Any) -> dict:
    body = {"project": project_id, "recipe": recipe, "max_retries": 2, "max_assign_time": 3600}
    return drone.post("/task/submit", {**body, **fields}, status=status)


def get_task(drone: Caller, project_id: int) -> dict | None:
    reply = drone.get(f"/task/get/{project_id}")
    if not reply["ok"]:
        assert reply == {"ok": False, "message": "No task available"}
        return None
    return reply["content"]["task"]


def release(drone: Caller, task_id: int, result: int, verification: int = 0) -> bool:
    body = {"task_id": task_id, "result": result, "verification": verification}
    return drone.post("/task/release", body)["content"]["updated"]


def query(run: MakeRun, sql: str, *params: Any) -> list[tuple]:
    """Read the service's SQLite file directly, as a second reader (WAL allows it)."""
    uri = f"file:{run.data_dir / 'regatta.sqlite3'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute(sql, params).fetchall()


# --- the tracker -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alice(service) -> Caller:
    """The first manager to register: the tracker admin (only an admin makes public projects)."""
    return manager(service.url, "alice")


def test_the_tracker_queue_serves_its_clients_on_sqlite(service, alice):
    assert Caller(service.url).get("/") == {
        "ok": True,
        "content": {"name": "task_tracker", "version": "1.1"},
    }
    archive = project(alice, "archive")
    crawl = project(alice, "crawl", chain=archive)
    bob, carol = worker(service.url, "bob"), worker(service.url, "carol")
    for drone in (bob, carol):
        grant(alice, drone, crawl)
        grant(alice, drone, archive)

    _submit_single_and_bulk(service, bob, crawl)
    _release_ok_skip_fail(alice, bob, carol, crawl, archive)
    _verify_by_two_workers(service, bob, carol, crawl)
    _hard_reset_drops_verifications(service, alice, bob, crawl)

    assert _recipes(service, archive) == ["page 1", "bulk 1", "bulk 2", "verify me"]
    # "bulk 1b" closed too, but its copy collided with "bulk 1"'s hash in archive: skipped.
    assert _hashes(service, archive)[:3] == [_PAGE_1_HASH, 11, 12]
    closed = {row["id"]: row["closed_task_count"] for row in _stats(service)}
    assert (closed[bob.worker_id], closed[carol.worker_id]) == (3, 2)


# SipHash-2-4 of "http://a/1" with the tracker's key, as a signed int64 (docs/tracker.md).
_PAGE_1_HASH = 2374357524011132186


def _submit_single_and_bulk(run: MakeRun, bob: Caller, crawl: int) -> None:
    assert submit(bob, crawl, "page 1", unique_string="http://a/1") == {"ok": True}
    assert submit(bob, crawl, "page 1 again", status=400, unique_string="http://a/1") == {
        "ok": False,
        "message": DUPLICATE,
    }
    items = [
        {"project": crawl, "recipe": "bulk 1", "hash_u64": 11},
        {"project": crawl, "recipe": "bulk 2", "hash_u64": 12},
        # Stored already by the single submit above.
        {"project": crawl, "recipe": "bulk 3", "unique_string": "http://a/1"},
        # Twice in this batch: the second is skipped.
        {"project": crawl, "recipe": "bulk 4", "hash_u64": 11},
    ]
    items = [{**item, "max_retries": 2, "max_assign_time": 3600} for item in items]
    reply = bob.post("/task/bulk_submit", {"requests": items})
    assert reply == {"ok": True, "content": {"inserted": 2, "duplicates": 2}}
    reply = bob.post("/task/bulk_submit", {"requests": items[:1]})
    assert reply == {
        "ok": False,
        "message": "No task was inserted",
        "content": {"inserted": 0, "duplicates": 1},
    }
    assert _recipes(run, crawl) == ["page 1", "bulk 1", "bulk 2"]


def _release_ok_skip_fail(
    alice: Caller, bob: Caller, carol: Caller, crawl: int, archive: int
) -> None:
    task = get_task(bob, crawl)
    assert task["recipe"] == "page 1"
    assert task["assignee"] == bob.worker_id
    assert (task["retries"], task["max_retries"], task["status"]) == (0, 2, 1)
    assert (task["max_assign_time"], task["verification_count"]) == (3600, 1)
    assert isinstance(task["assign_time"], int)
    nested = task["project"]
    assert (nested["id"], nested["name"], nested["chain"]) == (crawl, "crawl", archive)
    assert (nested["public"], nested["hidden"], nested["paused"]) == (False, False, False)
    assert release(bob, task["id"], TR_OK) is True
    assert release(bob, task["id"], TR_OK) is False  # already closed: a no-op

    first = get_task(carol, crawl)
    assert first["recipe"] == "bulk 1"
    assert release(carol, first["id"], TR_SKIP) is True
    for retries in (0, 1):  # max_retries 2: the second failure marks it FAILED
        task = get_task(carol, crawl)
        assert (task["id"], task["retries"]) == (first["id"], retries)
        assert release(carol, first["id"], TR_FAIL) is True
    held = get_task(carol, crawl)
    assert held["recipe"] == "bulk 2"
    assert get_task(bob, crawl) is None  # bulk 1 failed, bulk 2 held by carol
    reset = alice.post(f"/project/reset_failed_tasks/{crawl}")
    assert reset == {"ok": True, "content": {"affected_tasks": 1}}
    again = get_task(bob, crawl)
    assert (again["id"], again["retries"]) == (first["id"], 0)
    assert release(bob, again["id"], TR_OK) is True
    assert release(carol, held["id"], TR_OK) is True

    # Same hash as "bulk 1", whose copy is in archive now: this one's copy is skipped.
    assert submit(bob, crawl, "bulk 1b", hash_u64=11) == {"ok": True}
    assert release(bob, get_task(bob, crawl)["id"], TR_OK) is True


def _verify_by_two_workers(run: MakeRun, bob: Caller, carol: Caller, crawl: int) -> None:
    assert submit(bob, crawl, "verify me", verification_count=2) == {"ok": True}
    task = get_task(bob, crawl)
    assert task["verification_count"] == 2
    body = {"task_id": task["id"], "result": TR_OK, "verification": 42}
    assert bob.post("/task/release", body) == {
        "ok": True,
        "message": "Task was not marked as closed",
        "content": {"updated": False},
    }
    assert _verifications(run) == 1
    assert get_task(bob, crawl) is None  # bob has verified it: it is not his to take again
    assert get_task(carol, crawl)["id"] == task["id"]
    assert release(carol, task["id"], TR_OK, verification=42) is True
    assert _recipes(run, crawl) == []
    assert _verifications(run) == 0


def _hard_reset_drops_verifications(run: MakeRun, alice: Caller, bob: Caller, crawl: int) -> None:
    assert submit(bob, crawl, "half verified", verification_count=2) == {"ok": True}
    assert release(bob, get_task(bob, crawl)["id"], TR_OK, verification=7) is False
    assert _verifications(run) == 1
    reset = alice.post(f"/project/hard_reset/{crawl}")
    assert reset == {"ok": True, "content": {"affected_tasks": 1}}
    # PostgreSQL's ON DELETE CASCADE; a trigger on SQLite.
    assert _verifications(run) == 0


def _recipes(run: MakeRun, project_id: int) -> list[str]:
    rows = query(
        run, "SELECT recipe FROM tracker_task WHERE project_id = ? ORDER BY id", project_id
    )
    return [recipe for (recipe,) in rows]


def _hashes(run: MakeRun, project_id: int) -> list[int]:
    rows = query(
        run, "SELECT hash64 FROM tracker_task WHERE project_id = ? ORDER BY id", project_id
    )
    return [h for (h,) in rows]


def _verifications(run: MakeRun) -> int:
    return query(run, "SELECT count(*) FROM tracker_workerverifiestask")[0][0]


def _stats(run: MakeRun) -> list[dict]:
    return Caller(run.url).get("/worker/stats")["content"]["stats"]


# --- concurrency ---------------------------------------------------------------------------------


def test_concurrent_drones_never_get_the_same_task(service, alice):
    swarm = project(alice, "swarm", public=True)
    producer = worker(service.url, "producer")
    grant(alice, producer, swarm)
    # max_assign_time: beat's own reclaim sweep must not take a task back from a drone.
    items = [
        {"project": swarm, "recipe": f"task {i}", "priority": i % 5, "max_assign_time": 3600}
        for i in range(DRAIN_TASKS)
    ]
    reply = producer.post("/task/bulk_submit", {"requests": items})
    assert reply["content"] == {"inserted": DRAIN_TASKS, "duplicates": 0}
    submitted = {
        i for (i,) in query(service, "SELECT id FROM tracker_task WHERE project_id = ?", swarm)
    }
    assert len(submitted) == DRAIN_TASKS

    drones = [worker(service.url, f"drone {i}") for i in range(DRONES)]
    calls = [
        {"url": service.url, "worker_id": d.worker_id, "secret": d.secret, "project": swarm}
        for d in drones
    ]
    # The callers get the service's clean environment: nothing of this suite's PostgreSQL.
    env = {**service.env, "DJANGO_SETTINGS_MODULE": "orchestrator.settings"}
    results = run_concurrently("tests.e2e.tracker_drain:drain", calls, env)

    assigned = [task for r in results for task in r["assigned"]]
    closed = [task for r in results for task in r["closed"]]
    assert len(assigned) == len(set(assigned)) == DRAIN_TASKS, "a task was assigned twice"
    assert len(closed) == len(set(closed)) == DRAIN_TASKS, "a task was closed twice or not at all"
    assert set(closed) == submitted
    assert _recipes(service, swarm) == []
    counts = {row["id"]: row["closed_task_count"] for row in _stats(service)}
    assert [counts[d.worker_id] for d in drones] == [len(r["closed"]) for r in results]
    assert sum(1 for r in results if r["closed"]) > 1, "one drone did all the work"


# --- beat's sweeps, run on the real worker -------------------------------------------------------


def sweep(run: MakeRun, name: str) -> Any:
    """Run a beat task now on the service's worker, through its embedded Valkey."""
    url = f"redis+socket://{run.data_dir / 'redis.sock'}"
    app = Celery("embedded-test", broker=url, backend=url)
    try:
        return app.send_task(name, queue="default").get(timeout=30)
    finally:
        app.close()


def test_the_sweeps_reclaim_fold_and_snapshot_on_sqlite(service, alice):
    sweeps = project(alice, "sweeps", public=True)
    producer = worker(service.url, "sweeps producer")
    grant(alice, producer, sweeps)
    # Held for 2**63 - 1 s, which must not overflow the sum; and held past its time at once
    # (taken second, so a beat sweep at any moment cannot change who gets which).
    late, forever = worker(service.url, "late"), worker(service.url, "forever")
    submit(producer, sweeps, "held forever", priority=1, max_assign_time=2**63 - 1)
    assert get_task(forever, sweeps)["recipe"] == "held forever"
    submit(producer, sweeps, "held too long", priority=2, max_assign_time=-1)
    assert get_task(late, sweeps)["recipe"] == "held too long"
    counts_before = {row["id"]: row["closed_task_count"] for row in _stats(service)}

    assert isinstance(sweep(service, "tracker.reclaim_timed_out_tasks"), int)
    assert query(service, "SELECT count(*) FROM tracker_closedtally") == [(0,)]
    assert {row["id"]: row["closed_task_count"] for row in _stats(service)} == counts_before
    assigned = query(
        service,
        "SELECT recipe FROM tracker_task WHERE project_id = ? AND assignee_id IS NOT NULL",
        sweeps,
    )
    assert assigned == [("held forever",)]
    retaker = worker(service.url, "retaker")
    task = get_task(retaker, sweeps)
    assert task["recipe"] == "held too long"
    assert release(retaker, task["id"], TR_OK) is True

    taken = sweep(service, "tracker.monitoring_snapshot")
    assert taken["taken"] >= 1
    latest = Caller(service.url).get(f"/project/monitoring/{sweeps}?count=1")["content"][
        "snapshots"
    ]
    assert [{k: v for k, v in s.items() if k != "time_stamp"} for s in latest] == [
        {
            "new_task_count": 1,
            "failed_task_count": 0,
            "closed_task_count": 1,
            "worker_access_count": 1,
            "awaiting_verification_count": 0,
        }
    ]


# --- the releases family -------------------------------------------------------------------------


def test_a_release_goes_through_a_task_service_to_published(service, tmp_path):
    token = service.admin_token()
    studies = tmp_path / "studies.json"
    studies.write_text(json.dumps([{"kf_id": "SD_00000001", "name": "Study one"}]))
    # What a site without a dataservice does, in the service's own environment.
    subprocess.run(
        [sys.executable, "manage.py", "import_studies", str(studies)],
        cwd=ROOT,
        env=service.env,
        check=True,
    )
    svc = TaskServiceStandIn(mode="push", name="reports")
    try:
        _publish_one_release(service, token, svc)
    finally:
        svc.stop()


def _publish_one_release(run: MakeRun, token: str, svc: TaskServiceStandIn) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    body = {"name": svc.name, "author": "tester", "url": svc.url}
    registered = requests.post(f"{run.url}/task-services", json=body, headers=auth, timeout=30)
    assert registered.status_code == 201, registered.text
    svc.coordinator_url, svc.token = run.url, registered.json()["inbound_token"]

    body = {"name": "first", "studies": ["SD_00000001"]}
    created = requests.post(f"{run.url}/releases", json=body, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    kf_id = created.json()["kf_id"]
    # initialize (chord) → start → the service PATCHes `staged`.
    staged = _wait_release(run, kf_id, "staged")
    assert [t["state"] for t in staged["tasks"]] == ["staged"]

    published = requests.post(f"{run.url}/releases/{kf_id}/publish", headers=auth, timeout=30)
    assert published.json() == {"message": "publishing"}
    done = _wait_release(run, kf_id, "published")
    assert done["version"] == "0.1.0"
    actions = [c.body["action"] for c in svc.actions() if c.body["action"] != "get_status"]
    assert actions == ["initialize", "start", "publish"]


def _wait_release(run: MakeRun, kf_id: str, state: str) -> dict:
    seen: dict = {}

    def reached() -> bool:
        seen.update(requests.get(f"{run.url}/releases/{kf_id}", timeout=30).json())
        assert seen["state"] not in {"failed", "canceled", "rejected"}, seen
        return seen["state"] == state

    try:
        # Four hops through the embedded broker and SQLite's one writer: a loaded machine (the
        # suite runs three processes on two cores) needs more than the usual 30 s.
        wait_until(reached, timeout=60, interval=0.2, message=f"release {kf_id} {state}")
    except AssertionError as exc:
        tail = run.output()[-6000:]
        raise AssertionError(f"{exc}: {seen}\n--- make run's log (tail) ---\n{tail}") from None
    return seen


def test_a_flotilla_run_executes_on_the_local_engine_with_no_other_setup(service):
    # What the README shows: the first admin token, one POST and one PUT with curl.
    auth = {"Authorization": f"Bearer {service.admin_token()}"}
    body = {"group_name": "demo", "alias": "hello", "image": "ubuntu", "command": "echo hi"}
    created = requests.post(f"{service.url}/api/v1/task", json=body, headers=auth, timeout=30)
    assert created.status_code == 200, created.text
    definition_id = created.json()["definition_id"]
    executed = requests.put(
        f"{service.url}/api/v1/task/{definition_id}/execute", json={}, headers=auth, timeout=30
    )
    assert executed.status_code == 200, executed.text
    run_id = executed.json()["run_id"]
    seen: dict = {}

    def stopped() -> bool:
        seen.update(requests.get(f"{service.url}/api/v1/history/{run_id}", timeout=30).json())
        return seen["status"] == "STOPPED"

    wait_until(stopped, timeout=60, interval=0.2, message=f"run {run_id} STOPPED")
    assert seen["exit_code"] == 0, seen
    assert seen["user"] == "v1-unknown"
    log = requests.get(f"{service.url}/api/v1/{run_id}/logs", timeout=30).json()
    assert log["log"] == "+ echo hi\nhi\n"


def test_a_seed_job_runs_to_completed_with_its_logs_and_outputs_on_the_embedded_default(service):
    # What docs/scale.md shows: register a Seed manifest with curl, queue a job, watch it, read
    # its log and its output files, with the first admin token and nothing else set up.
    auth = {"Authorization": f"Bearer {service.admin_token()}"}
    manifest = {
        "seedVersion": "1.0.0",
        "job": {
            "name": "word-count",
            "jobVersion": "1.0.0",
            "packageVersion": "1.0.0",
            "title": "Word count",
            "description": "Writes a count",
            "maintainer": {"name": "Alice", "email": "alice@example.com"},
            "timeout": 60,
            "interface": {
                "command": 'echo "counting $WORDS"; echo "$WORDS" > "$OUTPUT_DIR/count.txt"',
                "inputs": {"json": [{"name": "WORDS", "type": "integer"}]},
                "outputs": {"files": [{"name": "count", "pattern": "count.txt"}]},
            },
            "resources": {"scalar": [{"name": "cpus", "value": 0.25}]},
        },
    }
    registered = requests.post(
        f"{service.url}/v6/job-types/",
        json={"docker_image": "word-count:1", "manifest": manifest},
        headers=auth,
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    details = requests.get(
        f"{service.url}/v6/job-types/word-count/1.0.0/", headers=auth, timeout=30
    ).json()
    queued = requests.post(
        f"{service.url}/v6/jobs/",
        json={"job_type_id": details["id"], "input": {"json": {"WORDS": 42}}},
        headers=auth,
        timeout=30,
    )
    assert queued.status_code == 201, queued.text
    job_id = queued.json()["id"]
    seen: dict = {}

    def final() -> bool:
        seen.update(
            requests.get(f"{service.url}/v6/jobs/{job_id}/", headers=auth, timeout=30).json()
        )
        return seen["status"] in ("COMPLETED", "FAILED", "CANCELED")

    wait_until(final, timeout=90, interval=0.3, message=f"job {job_id} final")
    assert seen["status"] == "COMPLETED", seen
    executions = requests.get(
        f"{service.url}/v6/jobs/{job_id}/executions/", headers=auth, timeout=30
    ).json()["results"]
    log = requests.get(
        f"{service.url}/v6/job-executions/{executions[0]['id']}/logs/combined/",
        headers=auth,
        timeout=30,
    ).json()
    assert "counting 42" in [line["message"] for line in log]
    files = requests.get(
        f"{service.url}/v6/files/", params={"job_id": job_id}, headers=auth, timeout=30
    ).json()["results"]
    assert [f["job_output"] for f in files] == ["count"]
