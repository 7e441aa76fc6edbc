"""The exact requests of the public clients (spec §3): the Python drone, the Go client, the crawler.

No client code is copied; each test sends what the client sends and reads what it reads.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from domain.tracker.models import Task
from tests.api.tracker.conftest import grant, make_project

pytestmark = pytest.mark.django_db(transaction=True)

PY_TASK_KEYS = (
    "id",
    "priority",
    "retries",
    "max_retries",
    "status",
    "recipe",
    "max_assign_time",
    "assign_time",
    "verification_count",
)
PY_PROJECT_KEYS = ("id", "priority", "name", "clone_url", "git_repo", "version", "motd", "public")


class PyDrone:
    """What tt_drone's TaskTrackerApi puts on the wire: raw UTF-8 JSON, no Content-Type, and
    the X-Worker-Id / X-Secret headers always, as "None" without a worker."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.worker_id = None
        self.secret = None

    def _headers(self) -> dict[str, str]:
        secret = None if self.secret is None else base64.b64encode(self.secret).decode()
        return {
            "User-Agent": "tt_py_client1.0",
            "X-Worker-Id": str(self.worker_id),
            "X-Secret": str(secret),
        }

    def http_post(self, path: str, body: dict) -> requests.Response:
        while True:
            r = requests.post(
                self.url + path,
                data=json.dumps(body).encode("utf8"),
                headers=self._headers(),
                timeout=5,
            )
            if r.status_code != 429:
                return r
            time.sleep(r.json()["rate_limit_delay"] * 20)

    def http_get(self, path: str) -> requests.Response:
        while True:
            r = requests.get(self.url + path, headers=self._headers(), timeout=5)
            if r.status_code != 429:
                return r
            time.sleep(r.json()["rate_limit_delay"] * 20)

    def make_worker(self, alias: str) -> None:
        r = self.http_post("/worker/create", {"alias": alias})
        assert r and r.status_code == 200
        worker = r.json()["content"]["worker"]
        self.worker_id = worker["id"]
        self.secret = base64.b64decode(worker["secret"])
        assert worker["alias"] == alias

    def fetch_task(self, pid: int) -> dict | None:
        r = self.http_get(f"/task/get/{pid}")
        if not r or not r.json()["ok"]:
            return None
        task = r.json()["content"]["task"]
        fields = {k: task[k] for k in PY_TASK_KEYS}
        fields["project"] = {k: task["project"][k] for k in PY_PROJECT_KEYS}
        return fields


@pytest.fixture
def drone(tt, admin):
    client = PyDrone(tt.base)
    client.make_worker("py drone")
    project = make_project(admin, "drone project")
    from tests.api.tracker.conftest import Tracker

    grant(
        admin, Tracker(tt.base, client.worker_id, base64.b64encode(client.secret).decode()), project
    )
    client.project = project
    return client


def test_python_drone_round_trip(drone):
    body = {
        "project": drone.project,
        "recipe": json.dumps({"url": "x"}),
        "priority": None,
        "max_assign_time": 60,
        "hash_u64": 0,
        "unique_str": "ignored by the server",
        "verification_count": None,
        "max_retries": 3,
    }
    assert drone.http_post("/task/submit", body).json()["ok"] is True
    # unique_str is not the server's key, so the same string does not deduplicate.
    assert drone.http_post("/task/submit", body).json()["ok"] is True
    task = drone.fetch_task(drone.project)
    assert task["recipe"] == json.dumps({"url": "x"})
    assert task["project"]["name"] == "drone project"
    reply = drone.http_post(
        "/task/release", {"task_id": task["id"], "result": 0, "verification": 0}
    )
    assert reply.json() == {"ok": True, "content": {"updated": True}}
    assert Task.objects.count() == 1


def test_python_drone_log_and_project_list(drone):
    reply = drone.http_post(
        "/log/info",
        {"level": "info", "message": "hello", "timestamp": int(time.time()), "scope": "py"},
    )
    assert (reply.status_code, reply.content) == (204, b"")
    projects = drone.http_get("/project/list").json()["content"]["projects"]
    assert [p["name"] for p in projects] == ["drone project"]
    assert drone.http_get(f"/project/secret/{drone.project}").status_code == 200


@pytest.mark.parametrize(
    "body", [{"requests": {"project": 1, "recipe": "last item"}}, {}], ids=["dict", "empty"]
)
def test_python_drone_broken_bulk_submit_is_a_parse_error(drone, body):
    reply = drone.http_post("/task/bulk_submit", body)
    assert reply.status_code == 400
    assert reply.json() == {"ok": False, "message": "Could not parse request"}


def test_python_drone_without_worker_sends_none_headers(tt):
    client = PyDrone(tt.base)
    reply = client.http_get("/task/get/1")
    assert reply.status_code == 403
    assert reply.json()["message"] == 'strconv.ParseInt: parsing "None": invalid syntax'


def test_python_drone_429_retry_terminates_with_small_delays(admin, drone):
    fast = make_project(admin, "fast", submit_rate=20, assign_rate=20)
    from tests.api.tracker.conftest import Tracker

    worker = Tracker(drone.url, drone.worker_id, base64.b64encode(drone.secret).decode())
    grant(admin, worker, fast)
    for i in range(3):
        body = {"project": fast, "recipe": str(i), "max_retries": 1}
        assert drone.http_post("/task/submit", body).json()["ok"] is True
    got = [drone.fetch_task(fast) for _ in range(3)]
    assert sorted(t["recipe"] for t in got) == ["0", "1", "2"]


def test_go_client_base_url_with_trailing_slash(drone):
    # client.go joins base + "/task/get/1"; fasthttp collapsed the double slash.
    drone.http_post("/task/submit", {"project": drone.project, "recipe": "r"})
    reply = requests.get(
        f"{drone.url}//task/get/{drone.project}",
        headers={
            "X-Worker-Id": str(drone.worker_id),
            "X-Secret": base64.b64encode(drone.secret).decode(),
        },
        timeout=5,
    )
    assert reply.json()["ok"] is True


def test_go_client_no_task_message(drone):
    reply = drone.http_get(f"/task/get/{drone.project}")
    assert reply.json() == {"ok": False, "message": "No task available"}


def test_crawler_sends_json_content_type(drone):
    headers = {
        "Content-Type": "application/json",
        "X-Worker-Id": str(drone.worker_id),
        "X-Secret": base64.b64encode(drone.secret).decode(),
    }
    body = json.dumps({"project": drone.project, "recipe": '{"website_id": 1}'})
    reply = requests.post(drone.url + "/task/submit", data=body, headers=headers, timeout=5)
    assert (reply.status_code, reply.json()) == (200, {"ok": True})
    reply = requests.get(f"{drone.url}/task/get/{drone.project}", headers=headers, timeout=5)
    assert reply.status_code == 200
