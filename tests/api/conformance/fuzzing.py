"""How each family's OpenAPI document is fuzzed: schemathesis's configuration per family (the
rows it may refer to, the state refusals a document names) and the run itself. The tests are
tests/api/conformance/test_<family>.py, one file each so the parallel test processes take them
apart (each run takes minutes). The full story of a run: every operation of the document, with
every check, against a live gunicorn on PostgreSQL; any server error, undocumented status code,
response that breaks its schema, schema-valid request refused or hanging request fails the test.
Where the original's wire format forces something unusual (the tracker's 200 `ok: false`), the
document says so; no check is switched off here."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from domain.common.tokens import token_create
from domain.releases.models import Event, Release, ReleaseNote, Study, Task, TaskService
from tests.support.processes import BIN

# Each test file's marks: a transactional database (the fuzzed server is another process), and a
# timeout above the suite's default, as a run takes minutes on a busy machine (`fuzz` bounds it).
CONFORMANCE_MARKS = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(960)]
# Examples per operation and phase; a fixed seed makes a red run reproducible (override both
# with REGATTA_FUZZ_EXAMPLES / REGATTA_FUZZ_SEED to search wider).
EXAMPLES = os.environ.get("REGATTA_FUZZ_EXAMPLES", "20")
SEED = os.environ.get("REGATTA_FUZZ_SEED", "20261130")
# A request that takes longer than this hangs as far as a client is concerned.
REQUEST_TIMEOUT = "10"


def fuzz(url: str, family: str, config: str, report_dir: Path) -> subprocess.CompletedProcess:
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


def releases_rows(service_url: str) -> dict[str, list[str]]:
    """What a real coordinator holds: studies, a registered service, releases in each state the
    routes care about, with their tasks, notes and events. The fuzzer names these (half the
    time) wherever the document takes a reference, so it reaches the domain, not only the
    "does not exist" of a reference to nothing."""
    studies = [Study.objects.create(kf_id=f"SD_0000000{i}", name=f"Study {i}") for i in (1, 2)]
    service = TaskService.objects.create(name="fuzzed", url=service_url, author="fuzzer")
    rows: dict[str, list[str]] = {"studies": [s.kf_id for s in studies], "releases": []}
    rows.update(tasks=[], notes=[], events=[], services=[service.kf_id])
    for state in ("pending", "running", "staged", "published"):
        release = Release.objects.create(name=f"R {state}", state=state)
        release.studies.set(studies)
        task = Task.objects.create(release=release, task_service=service, state="running")
        note = ReleaseNote.objects.create(release=release, study=studies[0], description="n")
        event = Event.objects.create(release=release, task=task, message="m")
        for key, row in (("releases", release), ("tasks", task), ("notes", note)):
            rows[key].append(row.kf_id)
        rows["events"].append(event.kf_id)
    return rows


def releases_config(service_url: str) -> list[str]:
    rows = releases_rows(service_url)
    lines = [f"[dictionaries.{name}]\nvalues = {_toml(values)}\n" for name, values in rows.items()]
    lines.append("[dictionaries.urls]\nvalues = " + _toml([service_url]) + "\n")
    lines.append("[parameters]")
    for key, name in RELEASES_REFERENCES.items():
        # A filter that names nothing is a 400 on some lists: query filters always name rows.
        chance = 1.0 if key.startswith("query.") else 0.5
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {chance} }}')
    lines.append("")
    for collection, name in RELEASES_COLLECTIONS.items():
        lines += [
            "[[operations]]",
            f'include-path-regex = "^/{collection}/"',
            f'parameters = {{ "path.kf_id" = {{ dictionary = "{name}", probability = 0.5 }} }}',
            "",
        ]
    return lines


# Where the releases document takes a reference, and the rows it names.
RELEASES_REFERENCES = {
    "query.release": "releases",
    "query.task": "tasks",
    "query.task_service": "services",
    "query.study": "studies",
    "body.release": "releases",
    "body.task": "tasks",
    "body.task_service": "services",
    "body.study": "studies",
    "body.studies[*]": "studies",
    "body.url": "urls",
}
RELEASES_COLLECTIONS = {
    "releases": "releases",
    "tasks": "tasks",
    "task-services": "services",
    "release-notes": "notes",
    "events": "events",
    "studies": "studies",
}


# Operations that answer 400 to a well-formed request the state refuses (a reference to nothing,
# a duplicate, a time already past) where REST would say 404 or 409: the wire format is the
# original's or shared by every family, and each document's 400 says so. For these alone,
# "schema-valid request rejected" also takes 400; every other check and operation is as is.
STATE_REFUSALS = {
    "*": [("POST", "/_/{family}/tokens")],  # expires_at in the past
    # The original answers 400 where a reference names nothing or the state refuses the change
    # (an illegal task or release transition, a service with live tasks, a URL that does not
    # answer the registration check).
    "releases": [
        ("POST", "/releases"),
        ("PUT", "/releases/{kf_id}"),
        ("PATCH", "/releases/{kf_id}"),
        ("POST", "/releases/{kf_id}/publish"),
        ("POST", "/tasks"),
        ("PUT", "/tasks/{kf_id}"),
        ("PATCH", "/tasks/{kf_id}"),
        ("POST", "/task-services"),
        ("PUT", "/task-services/{kf_id}"),
        ("PATCH", "/task-services/{kf_id}"),
        ("DELETE", "/task-services/{kf_id}"),
        ("POST", "/release-notes"),
        ("PUT", "/release-notes/{kf_id}"),
        ("PATCH", "/release-notes/{kf_id}"),
        ("POST", "/events"),
    ],
    # Scale refuses with 400 what its schemas cannot state: manifest names that collide as
    # environment variables, duplicate mount or error names, relative mount paths; a
    # configuration naming a workspace that does not exist; a name taken or reserved; an edit
    # whose manifest names another job type; a title with no letter to name a workspace after.
    # A job refers to a job type that must exist and be active, and its input must fit that
    # type's manifest; cancel and requeue name job types that must exist and take time bounds
    # the schema cannot check (a date-time or a duration); the load's range is at most 31 days.
    "scale": [
        ("POST", "/v6/job-types/"),
        ("PATCH", "/v6/job-types/{name}/{version}/"),
        ("POST", "/v6/workspaces/"),
        ("POST", "/v6/jobs/"),
        ("POST", "/v6/jobs/cancel/"),
        ("POST", "/v6/jobs/requeue/"),
        ("GET", "/v6/load/"),
        ("GET", "/v6/jobs/"),
        ("GET", "/v6/job-types/status/"),
    ],
    # The original answers 400 to a request its state refuses (a cluster this deployment does
    # not run on, an env name a process cannot carry), 409 to a taken alias or cluster name and
    # to deleting a definition whose runs are active.
    "flotilla": [
        (method, path.replace("{v}", version))
        for method, path, versions in (
            ("GET", "/api/{v}/task", ("v1", "v6")),
            ("POST", "/api/{v}/task", ("v1", "v6")),
            ("PUT", "/api/{v}/task/{definition_id}", ("v1", "v6")),
            ("DELETE", "/api/{v}/task/{definition_id}", ("v1", "v6")),
            ("PUT", "/api/{v}/task/{definition_id}/execute", ("v1", "v2", "v4", "v6")),
            ("PUT", "/api/{v}/task/alias/{alias}/execute", ("v1", "v6")),
            ("PUT", "/api/{v}/{run_id}/status", ("v1", "v6")),
            ("GET", "/api/{v}/history", ("v1", "v6")),
            ("GET", "/api/{v}/task/{definition_id}/history", ("v1", "v6")),
            ("POST", "/api/{v}/clusters", ("v6",)),
            ("PUT", "/api/{v}/clusters/{cluster_id}", ("v6",)),
        )
        for version in versions
    ],
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
# A body whose documented limits add up past DATA_UPLOAD_MAX_MEMORY_SIZE (lists of long
# strings) is refused whole with 413 before any field is read: a rejection like 400.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
BODY_LIMITED = {
    "flotilla": [
        (method, path.replace("{v}", version))
        for method, path, versions in (
            ("POST", "/api/{v}/task", ("v1", "v6")),
            ("PUT", "/api/{v}/task/{definition_id}", ("v1", "v6")),
            ("PUT", "/api/{v}/task/{definition_id}/execute", ("v1", "v2", "v4", "v6")),
            ("PUT", "/api/{v}/task/alias/{alias}/execute", ("v1", "v6")),
            ("PUT", "/api/{v}/{run_id}/status", ("v1", "v6")),
            ("POST", "/api/{v}/clusters", ("v6",)),
            ("PUT", "/api/{v}/clusters/{cluster_id}", ("v6",)),
        )
        for version in versions
    ],
}


def _toml(value: object) -> str:
    # Strings and lists of strings are all the configuration needs; JSON spells them as TOML.
    return json.dumps(value)


def config_for(family: str, url: str, service_url: str) -> str:
    """schemathesis.toml for one family. Credentials go by the document's own security
    schemes, so schemathesis also checks that each operation refuses a request without them."""
    schemes = {"TokenAuth": ("bearer", token_create(role="admin", name="Fuzzer").plaintext)}
    lines: list[str] = []
    if family == "scale":
        # Reads and `/validation` take any token (ScaleReadAuth); writes an admin's (TokenAuth).
        schemes["ScaleReadAuth"] = schemes["TokenAuth"]
    if family == "releases":
        # The family's own routes check roles with RoleAuth; its token routes with TokenAuth.
        schemes["RoleAuth"] = schemes["TokenAuth"]
        lines += releases_config(service_url)
    if family == "flotilla":
        # Writes check roles with RunsWriterAuth (api/flotilla/auth.py).
        schemes["RunsWriterAuth"] = schemes["TokenAuth"]
        # Hypothesis's own check that example generation is fast enough, not the API's: the
        # family's bodies are large, and on a loaded machine generating them trips it.
        lines += ['suppress-health-check = ["too_slow"]', ""]
        lines += flotilla_config()
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
    # One block per operation: what its checks take besides their defaults.
    checks: dict[tuple[str, str], list[str]] = {}
    for method, path in STATE_REFUSALS["*"] + STATE_REFUSALS.get(family, []):
        key = (method, path.replace("{family}", family))
        checks.setdefault(key, []).append(
            f"checks.positive_data_acceptance.expected-statuses = {_toml(ACCEPTED)}"
        )
    for key in BODY_LIMITED.get(family, []):
        checks.setdefault(key, []).append(
            f"checks.negative_data_rejection.expected-statuses = {_toml(REJECTED)}"
        )
    for method, path in SAME_VIEW_ELSEWHERE.get(family, []):
        checks.pop((method, path), None)
        # By name: include-method and include-path in one block select either, not both.
        lines += [
            "[[operations]]",
            f"include-name = {_toml(f'{method} {path}')}",
            "enabled = false",
            "",
        ]
    for (method, path), settings in checks.items():
        lines += [
            "[[operations]]",
            f"include-method = {_toml(method)}",
            f"include-path = {_toml(path)}",
            *settings,
            "",
        ]
    return "\n".join(lines)


TRACKER_SCHEMES = ("WorkerId", "WorkerSecret", "ManagerSession")


def flotilla_config() -> list[str]:
    """A definition with runs in several statuses and a cluster: the fuzzer names them (half
    the time) wherever a path takes an id, so it reaches the domain, not only the 404."""
    from domain.runs.clusters import cluster_create
    from domain.runs.definitions import definition_create
    from domain.runs.execute import RunRequest, run_execute
    from domain.runs.models import Run

    definition = definition_create(group_name="fuzzed", alias="fuzzed", image="i", command="true")
    runs = [
        run_execute(request=RunRequest(owner="fuzzer"), definition_id=definition.pk)
        for _ in range(3)
    ]
    Run.objects.filter(pk=runs[1].pk).update(status="STOPPED", exit_code=0)
    Run.objects.filter(pk=runs[2].pk).update(status="RUNNING")
    cluster = cluster_create(name="fuzzed")
    rows = {
        "definitions": [definition.pk],
        "aliases": [definition.alias],
        "runs": [run.pk for run in runs],
        "clusters": [cluster.pk],
    }
    lines = [f"[dictionaries.{name}]\nvalues = {_toml(values)}\n" for name, values in rows.items()]
    lines.append("[parameters]")
    for key, name in FLOTILLA_REFERENCES.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    lines.append("")
    return lines


# Flotilla serves most operations at /api/v1 and /api/v6 (execute also at /api/v4) from one
# view with one schema: each is fuzzed once, at v6 (tests/api/flotilla/ call every version).
# The v1-only operations (the legacy execute, the cluster names) and v2's execute are fuzzed.
SAME_VIEW_ELSEWHERE = {
    "flotilla": [
        ("PUT", "/api/v4/task/{definition_id}/execute"),
        *(
            (method, f"/api/v1{path}")
            for method, path in (
                ("GET", "/task"),
                ("POST", "/task"),
                ("GET", "/task/alias/{alias}"),
                ("GET", "/task/{definition_id}"),
                ("PUT", "/task/{definition_id}"),
                ("DELETE", "/task/{definition_id}"),
                ("PUT", "/task/alias/{alias}/execute"),
                ("GET", "/history"),
                ("GET", "/task/{definition_id}/history"),
                ("GET", "/history/{run_id}"),
                ("GET", "/task/history/{run_id}"),
                ("GET", "/task/{definition_id}/history/{run_id}"),
                ("DELETE", "/task/{definition_id}/history/{run_id}"),
                ("PUT", "/{run_id}/status"),
                ("GET", "/{run_id}/logs"),
                ("GET", "/{run_id}/events"),
                ("GET", "/groups"),
                ("GET", "/tags"),
            )
        ),
    ],
}

FLOTILLA_REFERENCES = {
    "path.definition_id": "definitions",
    "path.alias": "aliases",
    "path.run_id": "runs",
    "path.cluster_id": "clusters",
}


def answers_as_documented(family: str, web: str, task_service_url: str, report_dir: Path) -> None:
    """Fuzz every operation of `family`'s document against the server at `web`."""
    done = fuzz(web, family, config_for(family, web, task_service_url), report_dir)
    summary = done.stdout[-12000:] + done.stderr[-3000:]
    assert done.returncode == 0, summary
