"""Each family's OpenAPI document tells the truth: schemathesis sends every operation of it, with
every check, to a live gunicorn on PostgreSQL, and any server error, undocumented status code,
response that breaks its schema, schema-valid request refused or hanging request fails the test.

Where the original's wire format forces something unusual (the tracker's 200 `ok: false`), the
document says so; no check is switched off here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from domain.common.tokens import token_create
from tests.support.processes import BIN, start_web

pytestmark = pytest.mark.django_db(transaction=True)

FAMILIES = ("releases", "tracker", "scale", "flotilla")
# Examples per operation and phase; a fixed seed makes a red run reproducible (override both
# with REGATTA_FUZZ_EXAMPLES / REGATTA_FUZZ_SEED to search wider).
EXAMPLES = os.environ.get("REGATTA_FUZZ_EXAMPLES", "20")
SEED = os.environ.get("REGATTA_FUZZ_SEED", "20261130")
# A request that takes longer than this hangs as far as a client is concerned.
REQUEST_TIMEOUT = "10"


@pytest.fixture(scope="module")
def web(subprocess_env, log_dir):
    proc = start_web(subprocess_env, log_dir, workers=2)
    yield proc.info["url"]
    proc.stop()


def fuzz(
    url: str, family: str, config: str, headers: dict[str, str], report_dir: Path
) -> subprocess.CompletedProcess:
    (report_dir / "schemathesis.toml").write_text(config)
    argv = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(report_dir / "schemathesis.toml"),
        "run",
        f"{url}/_/{family}/openapi.json",
        "--url",
        url,
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--request-timeout",
        REQUEST_TIMEOUT,
        "--workers",
        "1",
        "--no-color",
    ]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=report_dir)


def tracker_actors(url: str) -> dict[str, str]:
    """What a real tracker deployment has: a drone with approved assign and submit access to a
    project of Olga's (the first manager, so the tracker admin), and Alice, an ordinary
    manager. The fuzzer calls as the drone and as Alice, so it reaches the queue and the role
    checks instead of stopping at 401/403; Alice may not revoke or pause the drone, so what
    the fuzzer does to one operation cannot turn the drone away from the next."""
    olga, alice = _register(url, "olga"), _register(url, "alice")
    reply = olga.post(f"{url}/project/create", json={"name": "fuzzed", "public": True})
    project = reply.json()["content"]["id"]
    worker = requests.post(f"{url}/worker/create", json={"alias": "drone"}).json()
    worker = worker["content"]["worker"]
    drone = {"X-Worker-Id": str(worker["id"]), "X-Secret": worker["secret"]}
    access = {"assign": True, "submit": True, "project": project}
    reply = requests.post(f"{url}/project/request_access", json=access, headers=drone)
    assert reply.json() == {"ok": True}, reply.text
    reply = olga.post(f"{url}/project/accept_request/{project}/{worker['id']}")
    assert reply.json() == {"ok": True}, reply.text
    return {
        "WorkerId": drone["X-Worker-Id"],
        "WorkerSecret": drone["X-Secret"],
        "ManagerSession": alice.cookies["sessionid"],
        "project": str(project),
    }


def _register(url: str, username: str) -> requests.Session:
    manager = requests.Session()
    reply = manager.post(f"{url}/register", json={"username": username, "password": "a" * 12})
    assert reply.json() == {"ok": True}, reply.text
    return manager


# Operations that answer 400 to a well-formed request the state refuses (a reference to nothing,
# a duplicate, a time already past) where REST would say 404 or 409: the wire format is the
# original's or shared by every family, and each document's 400 says so. For these alone,
# "schema-valid request rejected" also takes 400; every other check and operation is as is.
STATE_REFUSALS = {
    "*": [("POST", "/_/{family}/tokens")],  # expires_at in the past
    "tracker": [
        ("POST", "/project/create"),  # duplicate name, chain to a missing project
        ("POST", "/project/update/{pid}"),  # the same
        ("POST", "/project/request_access"),  # a missing project, a request already made
        ("POST", "/task/submit"),  # duplicate hash
        ("POST", "/task/bulk_submit"),  # tasks of several projects
        ("POST", "/worker/set_paused"),  # a missing worker
        ("POST", "/manager/set_role_for_project/{pid}"),  # a missing manager
        ("POST", "/register"),  # a username already taken
        ("POST", "/git/receivehook"),  # no project has this repository
    ],
}
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def _toml(value: object) -> str:
    # Strings and lists of strings are all the configuration needs; JSON spells them as TOML.
    return json.dumps(value)


def config_for(family: str, url: str, admin: str) -> str:
    """schemathesis.toml for one family. Credentials go by the document's own security
    schemes, so schemathesis also checks that each operation refuses a request without them."""
    schemes = {"TokenAuth": ("bearer", admin)}
    lines: list[str] = []
    if family == "tracker":
        actors = tracker_actors(url)
        schemes.update({name: ("api_key", actors[name]) for name in TRACKER_SCHEMES})
        # /log/* takes the worker headers as parameters (it answers their absence with 400).
        lines += [
            # Half the project ids the drone sends name its own project, so submits and gets
            # reach the queue rather than 404.
            "[dictionaries.projects]",
            f"values = [{actors['project']}]",
            "",
            "[parameters]",
            f'"header.X-Worker-Id" = {_toml(actors["WorkerId"])}',
            f'"header.X-Secret" = {_toml(actors["WorkerSecret"])}',
            '"path.project" = { dictionary = "projects", probability = 0.5 }',
            '"body.project" = { dictionary = "projects", probability = 0.5 }',
            "",
            # The original answers a method a route does not serve with 404 `Not found`
            # (fasthttprouter has no 405; tests/api/tracker/test_wire.py holds it). No OpenAPI
            # document can declare what an undeclared method gets, so none is sent.
            "[phases.coverage]",
            "unexpected-methods = []",
            "",
        ]
    for name, (kind, value) in schemes.items():
        lines += [f"[auth.openapi.{name}]", f"{kind} = {_toml(value)}", ""]
    for method, path in STATE_REFUSALS["*"] + STATE_REFUSALS.get(family, []):
        lines += [
            "[[operations]]",
            f"include-method = {_toml(method)}",
            f"include-path = {_toml(path.replace('{family}', family))}",
            f"checks.positive_data_acceptance.expected-statuses = {_toml(ACCEPTED)}",
            "",
        ]
    return "\n".join(lines)


TRACKER_SCHEMES = ("WorkerId", "WorkerSecret", "ManagerSession")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_operation_answers_as_its_document_says(family, web, tmp_path):
    admin = token_create(role="admin", name="Fuzzer").plaintext
    # The tracker's document names a scheme for every credential it takes; the other families
    # also get the token on every request, as some of their operations do not declare it yet.
    headers = {} if family == "tracker" else {"Authorization": f"Bearer {admin}"}
    done = fuzz(web, family, config_for(family, web, admin), headers, tmp_path)
    summary = done.stdout[-12000:] + done.stderr[-3000:]
    assert done.returncode == 0, summary
