"""/v6/jobs/…, the logs, the queue and the job types' statistics (A.3, A.12, A.14-12/13).

Bob (a developer) queues jobs; Charlie (a user) may only read; Mallory has no token. Jobs run
here through the executions aggregate's own engine-side services, in process; tests/e2e/jobs/
runs them on a real worker."""

from __future__ import annotations

import json

import pytest

from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import execution_end, execution_launch_begin, execution_mark_running
from domain.executions.logs import execution_log_append
from domain.executions.models import Outcome
from domain.jobs.models import Job, JobStatus
from domain.jobs.scheduling import jobs_schedule
from tests.domain.jobs.jobs_support import host, input_file, job_type, seed

pytestmark = pytest.mark.django_db

INPUTS = {"files": [{"name": "IMAGE"}], "json": [{"name": "COUNT", "type": "integer"}]}


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = str(tmp_path / "data")


@pytest.fixture
def typed():
    return job_type(inputs=INPUTS, errors=[{"code": 5, "name": "bad-data", "category": "data"}])


@pytest.fixture
def image(tmp_path):
    return input_file(tmp_path, "a.png", "pixels")


def _body(typed, image, **extra):
    return {
        "job_type_id": typed.pk,
        "input": {"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 2}},
        **extra,
    }


def _run_to_end(
    job_id: int, *, code: int = 0, lines: list[str] = (), stderr: list[int] = ()
) -> Job:
    jobs_schedule()
    job = Job.objects.get(pk=job_id)
    execution_dispatch(cluster="default")
    execution_launch_begin(execution_id=job.execution_id)
    execution_mark_running(execution_id=job.execution_id, engine_ref={})
    if lines:
        execution_log_append(
            execution_id=job.execution_id, first_line=0, lines=list(lines), stderr=list(stderr)
        )
    execution_end(execution_id=job.execution_id, outcome=Outcome.EXITED, exit_code=code, reason="")
    return Job.objects.get(pk=job_id)


def test_it_queues_a_job_with_201_and_location(bob, typed, image):
    # A.14-13.
    resp = bob.post("/v6/jobs/", _body(typed, image, configuration={"priority": 3}))
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert resp["Location"].endswith(f"/v6/jobs/{body['id']}/")
    assert body["status"] == "QUEUED" and body["priority"] == 3 and body["num_exes"] == 1
    assert body["max_tries"] == 3 and body["job_type"]["name"] == typed.name
    assert body["input"] == {"files": {"IMAGE": [image.pk]}, "json": {"COUNT": 2}}
    assert body["execution"] is None
    assert bob.post("/v7/jobs/", _body(typed, image)).status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"input": {"files": {}, "json": {"COUNT": 2}}},
        {"input": {"files": {"IMAGE": [1]}, "json": {"COUNT": "two"}}},
        {"configuration": {"priority": 0}},
        {"configuration": {"bogus": 1}},
        {"job_type_id": 999999},
        {"job_type_id": "1"},
        {"job_type_id": 2**70},
        {"surprise": True},
        {"input": None},
    ],
)
def test_it_refuses_invalid_data_or_configuration_with_400_and_no_row(bob, typed, image, change):
    resp = bob.post("/v6/jobs/", {**_body(typed, image), **change})
    assert resp.status_code == 400, resp.content
    assert set(resp.json()) == {"detail"}
    assert not Job.objects.exists()


def test_it_refuses_a_job_of_an_inactive_type_with_400(bob, typed, image):
    assert bob.patch(f"/v6/job-types/{typed.name}/1.0.0/", {"is_active": False}).status_code == 200
    resp = bob.post("/v6/jobs/", _body(typed, image))
    assert resp.status_code == 400 and "not active" in resp.json()["detail"]


def test_it_lets_only_admins_and_developers_queue_cancel_and_requeue(
    charlie, mallory, typed, image
):
    for path in ("/v6/jobs/", "/v6/jobs/cancel/", "/v6/jobs/requeue/"):
        assert (
            charlie.post(path, _body(typed, image) if path == "/v6/jobs/" else {}).status_code
            == 403
        )
        assert mallory.post(path, {}).status_code == 401
    assert charlie.get("/v6/jobs/").status_code == 200
    assert mallory.get("/v6/jobs/").status_code == 401


def test_it_lists_jobs_with_filters(bob, typed, image):
    other = job_type()
    first = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    second = bob.post("/v6/jobs/", {"job_type_id": other.pk, "input": {}}).json()["id"]
    all_ids = [j["id"] for j in bob.get("/v6/jobs/").json()["results"]]
    assert sorted(all_ids) == sorted([first, second])
    by_type = bob.get("/v6/jobs/", {"job_type_id": other.pk}).json()
    assert [j["id"] for j in by_type["results"]] == [second]
    by_name = bob.get("/v6/jobs/", {"job_type_name": typed.name}).json()
    assert [j["id"] for j in by_name["results"]] == [first]
    assert bob.get("/v6/jobs/", {"status": "RUNNING"}).json()["count"] == 0
    assert bob.get("/v6/jobs/", {"job_id": [first, second], "order": "id"}).json()["count"] == 2
    assert bob.get("/v6/jobs/", {"status": "NAPPING"}).status_code == 400
    assert bob.get("/v6/jobs/", {"order": "password"}).status_code == 400
    assert bob.get("/v6/jobs/", {"error_category": "COSMIC"}).status_code == 400
    assert bob.get("/v6/jobs/", {"started": "yesterday"}).status_code == 400
    assert bob.get("/v6/jobs/", {"started": "PT1H"}).json()["count"] == 2
    assert bob.get("/v6/jobs/", {"job_id": "x"}).status_code == 400


def test_it_shows_a_failed_jobs_executions_error_and_logs(bob, typed, image):
    job_id = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    host()
    _run_to_end(job_id, code=5, lines=["hello\n", "world\n"])
    details = bob.get(f"/v6/jobs/{job_id}/").json()
    assert details["status"] == "FAILED"
    assert (details["error"]["name"], details["error"]["category"]) == ("bad-data", "DATA")
    assert details["execution"]["exe_num"] == 1
    exes = bob.get(f"/v6/jobs/{job_id}/executions/").json()
    assert exes["count"] == 1 and exes["results"][0]["status"] == "FAILED"
    one = bob.get(f"/v6/jobs/{job_id}/executions/1/").json()
    assert one["exit_code"] == 5 and one["node"] == {"hostname": "h1"}
    assert bob.get(f"/v6/jobs/{job_id}/executions/2/").status_code == 404
    exe_id = one["id"]
    logs = bob.get(f"/v6/job-executions/{exe_id}/logs/combined/")
    assert logs.status_code == 200
    lines = json.loads(b"".join(logs.streaming_content))
    assert [line["message"] for line in lines] == ["hello", "world"]
    assert lines[0]["scale_order_num"] == 0 and lines[0]["stream"] == "stdout"
    assert "@timestamp" in lines[0]
    assert bob.get(f"/v6/job-executions/{exe_id}/logs/stderr/").status_code == 204
    assert bob.get(f"/v6/job-executions/{exe_id}/logs/elsewhere/").status_code == 404
    assert bob.get("/v6/job-executions/999999/logs/stdout/").status_code == 404
    inputs = bob.get(f"/v6/jobs/{job_id}/input_files/").json()
    assert [f["file_name"] for f in inputs["results"]] == ["a.png"]


def test_it_serves_stdout_stderr_and_combined_apart(bob, typed, image):
    job_id = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    host()
    _run_to_end(job_id, lines=["+ echo a\n", "a\n", "oops\n", "b\n"], stderr=[0, 2])
    exe_id = bob.get(f"/v6/jobs/{job_id}/executions/1/").json()["id"]

    def served(stream: str) -> list[tuple[int, str, str]]:
        answer = bob.get(f"/v6/job-executions/{exe_id}/logs/{stream}/")
        assert answer.status_code == 200
        lines = json.loads(b"".join(answer.streaming_content))
        return [(line["scale_order_num"], line["stream"], line["message"]) for line in lines]

    assert served("stdout") == [(1, "stdout", "a"), (3, "stdout", "b")]
    assert served("stderr") == [(0, "stderr", "+ echo a"), (2, "stderr", "oops")]
    assert served("combined") == [
        (0, "stderr", "+ echo a"),
        (1, "stdout", "a"),
        (2, "stderr", "oops"),
        (3, "stdout", "b"),
    ]


def test_it_answers_204_for_a_stream_without_lines(bob, typed, image):
    job_id = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    host()
    _run_to_end(job_id, lines=["+ false\n"], stderr=[0])
    exe_id = bob.get(f"/v6/jobs/{job_id}/executions/1/").json()["id"]
    assert bob.get(f"/v6/job-executions/{exe_id}/logs/stdout/").status_code == 204
    assert bob.get(f"/v6/job-executions/{exe_id}/logs/stderr/").status_code == 200


def test_it_answers_204_for_an_execution_without_output(bob, typed, image):
    job_id = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    host()
    _run_to_end(job_id)
    exe_id = bob.get(f"/v6/jobs/{job_id}/executions/1/").json()["id"]
    assert bob.get(f"/v6/job-executions/{exe_id}/logs/stdout/").status_code == 204


def test_it_cancels_and_requeues_by_filter_with_202(bob, typed, image):
    job_id = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    resp = bob.post("/v6/jobs/cancel/", {"job_ids": [job_id]})
    assert resp.status_code == 202 and resp.content == b""
    assert Job.objects.get(pk=job_id).status == JobStatus.CANCELED
    resp = bob.post(
        "/v6/jobs/requeue/",
        {"job_types": [{"name": typed.name, "version": "1.0.0"}], "priority": 9},
    )
    assert resp.status_code == 202
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.priority, job.num_exes, job.max_tries) == ("QUEUED", 9, 2, 4)


@pytest.mark.parametrize(
    "body",
    [
        {"job_types": [{"name": "ghost", "version": "1.0.0"}]},
        {"job_ids": ["1"]},
        {"job_ids": [0]},
        {"status": 5},
        {"status": "NAPPING"},
        {"started": "soon"},
        {"priority": 0},
        {"error_categories": ["COSMIC"]},
        {"whatever": 1},
        {"job_ids": None},
    ],
)
def test_it_refuses_bad_cancel_and_requeue_filters(bob, typed, image, body):
    job_id = bob.post("/v6/jobs/", _body(typed, image)).json()["id"]
    for path in ("/v6/jobs/cancel/", "/v6/jobs/requeue/"):
        if "priority" in body and path.endswith("cancel/"):
            continue
        resp = bob.post(path, body)
        assert resp.status_code == 400, (path, body, resp.content)
        assert set(resp.json()) == {"detail"}
    assert Job.objects.get(pk=job_id).status == JobStatus.QUEUED


def test_it_answers_404_for_jobs_and_paths_that_name_nothing(bob):
    assert bob.get("/v6/jobs/999999/").status_code == 404
    assert bob.get("/v6/jobs/999999/executions/").status_code == 404
    assert bob.get("/v6/jobs/999999/input_files/").status_code == 404
    assert bob.get("/v6/jobs/0/").status_code == 400
    assert bob.get(f"/v6/jobs/{2**70}/").status_code == 400


def test_it_reports_the_queue_and_the_job_types_statistics(bob, typed, image):
    # A.14-12.
    paused = job_type()
    bob.post("/v6/jobs/", _body(typed, image, configuration={"priority": 50}))
    bob.post("/v6/jobs/", {"job_type_id": paused.pk, "input": {}})
    bob.patch(f"/v6/job-types/{paused.name}/1.0.0/", {"is_paused": True})
    queue = bob.get("/v6/queue/status/").json()["results"]
    assert [q["job_type"]["id"] for q in queue] == [typed.pk, paused.pk]
    assert queue[0]["count"] == 1 and queue[0]["highest_priority"] == 50

    status = bob.get("/v6/job-types/status/").json()["results"]
    counts = {s["job_type"]["id"]: s["job_counts"] for s in status}
    assert counts[typed.pk][0]["status"] == "QUEUED" and counts[typed.pk][0]["count"] == 1
    old = bob.get(
        "/v6/job-types/status/",
        {"started": "2000-01-01T00:00:00Z", "ended": "2000-01-02T00:00:00Z"},
    )
    assert all(s["job_counts"] == [] for s in old.json()["results"])
    assert bob.get("/v6/job-types/status/", {"is_active": False}).json()["count"] == 0

    host()
    job = Job.objects.get(job_type=typed)
    jobs_schedule()
    job.refresh_from_db()
    execution_dispatch(cluster="default")
    execution_launch_begin(execution_id=job.execution_id)
    execution_mark_running(execution_id=job.execution_id, engine_ref={})
    running = bob.get("/v6/job-types/running/").json()["results"]
    assert [(r["job_type"]["id"], r["count"]) for r in running] == [(typed.pk, 1)]
    assert bob.get("/v6/job-types/pending/").json()["count"] == 0
    execution_end(execution_id=job.execution_id, outcome=Outcome.LOST, exit_code=None, reason="")
    Job.objects.filter(pk=job.pk).update(max_tries=1)
    jobs_schedule()
    job.refresh_from_db()
    execution_dispatch(cluster="default")
    execution_launch_begin(execution_id=job.execution_id)
    execution_end(execution_id=job.execution_id, outcome=Outcome.LOST, exit_code=None, reason="")
    failures = bob.get("/v6/job-types/system-failures/").json()["results"]
    assert [(f["job_type"]["id"], f["error"]["name"], f["count"]) for f in failures] == [
        (typed.pk, "node-lost", 1)
    ]


def test_it_serves_the_measured_load_within_31_days(bob, typed, image):
    from domain.jobs.load import job_load_measure

    bob.post("/v6/jobs/", _body(typed, image))
    job_load_measure()
    rows = bob.get("/v6/load/").json()["results"]
    assert rows[-1]["queued_count"] == 1 and rows[-1]["running_count"] == 0
    too_long = {"started": "2020-01-01T00:00:00Z", "ended": "2020-03-01T00:00:00Z"}
    assert bob.get("/v6/load/", too_long).status_code == 400


def test_it_keeps_job_type_routes_working_beside_the_statistics(bob):
    jt = job_type(name="status-check")
    assert bob.get(f"/v6/job-types/{jt.name}/").json()["count"] == 1
    assert seed()["job"]["name"]


def test_it_lists_and_shows_files_with_their_job(bob, charlie, image, tmp_path):
    from domain.jobs.files import file_store
    from domain.jobs.models import Workspace

    jt = job_type()
    job = Job.objects.get(
        pk=bob.post("/v6/jobs/", {"job_type_id": jt.pk, "input": {}}).json()["id"]
    )
    source = tmp_path / "out.csv"
    source.write_text("a,b\n")
    workspace = Workspace.objects.get(name="default")
    produced = file_store(
        workspace=workspace, source=source, path="jobs/1/out.csv", job=job, exe_num=1, output="csv"
    )
    listed = charlie.get("/v6/files/", {"job_id": job.pk}).json()
    assert [f["id"] for f in listed["results"]] == [produced.pk]
    shown = charlie.get(f"/v6/files/{image.pk}/").json()
    assert (shown["file_name"], shown["file_size"], shown["job"]) == ("a.png", 6, None)
    assert shown["url"] is None and shown["workspace"]["name"] == "default"
    assert charlie.get(f"/v6/files/{produced.pk}/").json()["job"] == {"id": job.pk}
    assert charlie.get("/v6/files/999999/").status_code == 404
    assert charlie.get("/v6/files/", {"job_id": "x"}).status_code == 400
