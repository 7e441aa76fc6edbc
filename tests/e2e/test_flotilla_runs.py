"""Flotilla runs over HTTP on a real web server and a real host worker's local engine: the
issue's core scenarios as a Flotilla client sees them (spec B.3–B.7, B.11)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from domain.common.tokens import token_create
from tests.support.processes import child_env, start_web, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def host(local_hosts):
    host = local_hosts(slots=4, EXECUTIONS_STOP_GRACE="1")
    host.start()
    return host


@pytest.fixture(scope="module")
def web(host, test_database_url, log_dir):
    env = child_env(
        test_database_url, EXECUTIONS_CLUSTERS=json.dumps({host.cluster: {"engine": "local"}})
    )
    proc = start_web(env, log_dir, workers=2)
    yield proc.info["url"]
    proc.stop()


class Flotilla:
    """A Flotilla client, as Alice (a developer) runs it."""

    def __init__(self, url: str, token: str, cluster: str) -> None:
        self.url = url
        self.cluster = cluster
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def define(self, command: str, env: list[dict] | None = None) -> str:
        body = {
            "group_name": "e2e",
            "alias": f"alias-{time.monotonic_ns()}",
            "image": "ignored/on-the-local-engine",
            "command": command,
            "memory": 512,
            "env": env or [],
        }
        resp = self.session.post(f"{self.url}/api/v1/task", json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()["definition_id"]

    def execute(self, definition_id: str, env: list[dict] | None = None, **extra) -> dict:
        body = {"cluster": self.cluster, "run_tags": {"owner_id": "alice"}, "env": env or []}
        body.update(extra)
        resp = self.session.put(
            f"{self.url}/api/v6/task/{definition_id}/execute", json=body, timeout=30
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def run(self, run_id: str) -> dict:
        resp = self.session.get(f"{self.url}/api/v1/history/{run_id}", timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait(self, run_id: str, status: str = "STOPPED", timeout: float = 30) -> dict:
        seen: dict = {}

        def reached() -> bool:
            seen.update(self.run(run_id))
            return seen["status"] == status

        wait_until(reached, timeout=timeout, interval=0.1, message=f"run {run_id} {status}")
        return seen

    def log(self, run_id: str) -> str:
        """The whole log, page by page as the original's clients read it."""
        text, token = "", ""
        while True:
            resp = self.session.get(
                f"{self.url}/api/v1/{run_id}/logs", params={"last_seen": token}, timeout=30
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            text += body["log"]
            if body["last_seen"] == token:
                return text
            token = body["last_seen"]


@pytest.fixture
def alice(web, host) -> Flotilla:
    return Flotilla(web, token_create(role="dev", name="Alice").plaintext, host.cluster)


def test_it_runs_echo_hi_to_stopped_with_its_trace_in_the_log(alice):
    run = alice.execute(alice.define("echo hi"))
    assert run["status"] == "QUEUED"
    done = alice.wait(run["run_id"])
    assert done["exit_code"] == 0
    assert alice.log(run["run_id"]) == "+ echo hi\nhi\n"


def test_it_merges_the_environment_definition_then_run_then_reserved(alice):
    definition = alice.define(
        'echo "$A/$B/$C/$FLOTILLA_RUN_ID/$FLOTILLA_RUN_OWNER_ID"',
        env=[{"name": "A", "value": "def"}, {"name": "B", "value": "def"}],
    )
    run = alice.execute(
        definition, env=[{"name": "B", "value": "run"}, {"name": "C", "value": "run"}]
    )
    alice.wait(run["run_id"])
    output = alice.log(run["run_id"]).splitlines()[-1]
    assert output == f"def/run/run/{run['run_id']}/alice"
    # The run shows the full effective environment (#58), not only the overrides.
    names = {pair["name"]: pair["value"] for pair in alice.run(run["run_id"])["env"]}
    assert names["A"] == "def" and names["B"] == "run" and names["C"] == "run"


def test_it_ends_a_run_at_its_first_failing_line_with_that_exit_code(alice):
    run = alice.execute(alice.define("echo before\n(exit 7)\necho never"))
    done = alice.wait(run["run_id"])
    assert done["exit_code"] == 7
    log = alice.log(run["run_id"])
    assert "before" in log and "never" not in log


def test_it_stops_a_run_whose_child_ignores_sigterm_and_says_who_stopped_it(alice):
    run = alice.execute(alice.define("trap '' TERM; (trap '' TERM; sleep 600) & sleep 600"))
    alice.wait(run["run_id"], "RUNNING")
    resp = alice.session.delete(
        f"{alice.url}/api/v1/task/{run['definition_id']}/history/{run['run_id']}",
        headers={"X-Owner-Email": "alice@example.org"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    done = alice.wait(run["run_id"])
    assert done["exit_code"] == 1
    assert done["exit_reason"] == "Task terminated by - alice@example.org"


def test_it_stops_a_run_past_its_deadline(alice):
    run = alice.execute(alice.define("sleep 600"), active_deadline_seconds=1)
    done = alice.wait(run["run_id"], timeout=60)
    assert done["exit_code"] == 1
    assert done["exit_reason"] == "JobRun exceeded specified timeout of 1 seconds"


def test_it_serves_the_slim_status_with_an_etag_once_stopped(alice):
    run = alice.execute(alice.define("true"))
    alice.wait(run["run_id"])
    url = f"{alice.url}/api/v6/{run['run_id']}/status"
    first = alice.session.get(url, timeout=30)
    assert first.status_code == 200 and first.json()["exit_code"] == 0
    assert first.headers["ETag"] == '"STOPPED-0"'
    again = alice.session.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304
