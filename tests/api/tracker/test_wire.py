"""The wire format: envelope, routing, Go-style body decoding, worker headers."""

from __future__ import annotations

import json

import pytest
import requests

from tests.api.tracker.conftest import submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_index_names_the_service_and_version(tt):
    reply = tt.get("/")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"ok": True, "content": {"name": "task_tracker", "version": "1.1"}}


@pytest.mark.parametrize("path", ["/nope", "/task/get", "/task/get/", "/worker/create/", "/x/y/z"])
def test_unknown_routes_get_plain_text_not_found(tt, path):
    reply = tt.get(path)
    assert reply.status_code == 404
    assert reply.text == "Not found"
    assert reply.headers["Content-Type"].startswith("text/plain")


def test_a_wrong_method_is_not_found_too(tt):
    reply = tt.get("/worker/create")
    assert (reply.status_code, reply.text) == (404, "Not found")
    reply = tt.post("/task/get/1", {})
    assert (reply.status_code, reply.text) == (404, "Not found")


CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTION",
    "Access-Control-Allow-Headers": "Content-Type",
}


# The original registers no OPTIONS route, so every OPTIONS request, to a known route or not,
# reaches its NotFound handler, which answers 200 with these headers and an empty body.
@pytest.mark.parametrize(
    "path",
    [
        "/anything",
        "/task/submit",
        "/task/get/1",
        "/project/update/1",
        "/worker/create",
        "/log/info",
        "/project/secret/1",
        "/git/receivehook",
        "/",
    ],
)
def test_options_answers_cors(setup, path):
    # Worker headers and a manager session must not change the preflight answer.
    for caller, headers in ((requests, {}), (setup.admin.session, setup.worker.headers())):
        reply = caller.options(setup.worker.base + path, headers=headers, timeout=5)
        assert reply.status_code == 200, path
        assert {key: reply.headers.get(key) for key in CORS} == CORS, path
        assert reply.content == b"", path


def test_duplicate_slashes_are_collapsed(setup):
    submit(setup.worker, setup.project)
    reply = setup.worker.get(f"//task/get/{setup.project}")
    assert reply.status_code == 200
    assert reply.json()["ok"] is True


def test_other_families_keep_their_own_404(tt):
    reply = tt.get("/_/nothing-here")
    assert reply.status_code == 404
    assert reply.text != "Not found"


def test_keys_are_case_insensitive_and_unknown_keys_ignored(setup):
    body = {
        "PROJECT": setup.project,
        "Recipe": "mixed case",
        "Max_Retries": 2,
        "priority": 5,
        "something_else": {"deep": [1, 2]},
    }
    assert setup.worker.post("/task/submit", body).json() == {"ok": True}
    task = setup.worker.get(f"/task/get/{setup.project}").json()["content"]["task"]
    assert (task["recipe"], task["max_retries"], task["priority"]) == ("mixed case", 2, 5)


def test_null_means_zero(setup):
    reply = submit(setup.worker, setup.project, priority=None, verification_count=None)
    assert reply.json() == {"ok": True}
    task = setup.worker.get(f"/task/get/{setup.project}").json()["content"]["task"]
    assert task["priority"] == 0
    assert task["verification_count"] == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("priority", 32768),
        ("priority", -32769),
        ("max_retries", 1.5),
        ("max_retries", 3.0),
        ("verification_count", "2"),
        ("max_assign_time", True),
        ("recipe", 12),
        ("hash_u64", 2**63),
        ("max_assign_time", [1]),
    ],
)
def test_a_wrong_type_or_out_of_range_int_fails_the_request(setup, field, value):
    reply = submit(setup.worker, setup.project, **{field: value})
    assert reply.status_code == 400
    assert reply.json() == {"ok": False, "message": "Could not parse request"}


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,2]", b'"x"', b"NaN", b'{"recipe": "\\u0000"}'])
def test_unparseable_bodies_are_400(setup, raw):
    reply = setup.worker.post("/task/submit", raw=raw)
    assert reply.status_code == 400
    assert reply.json() == {"ok": False, "message": "Could not parse request"}


def test_int16_bounds_are_accepted(setup):
    reply = submit(setup.worker, setup.project, priority=32767, max_retries=32767)
    assert reply.json() == {"ok": True}
    reply = submit(setup.worker, setup.project, priority=-32768, recipe="low")
    assert reply.json() == {"ok": True}


def test_json_content_type_is_fine_too(setup):
    reply = setup.worker.post(
        "/task/submit",
        raw=json.dumps({"project": setup.project, "recipe": "x"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert reply.json() == {"ok": True}


def test_header_names_are_case_insensitive(setup):
    submit(setup.worker, setup.project)
    reply = requests.get(
        f"{setup.worker.base}/task/get/{setup.project}",
        headers={"x-worker-ID": str(setup.worker.worker_id), "X-SECRET": setup.worker.secret},
        timeout=5,
    )
    assert reply.json()["ok"] is True


@pytest.mark.parametrize(
    "headers, message",
    [
        ({}, "worker id not specified"),
        ({"X-Worker-Id": "1"}, "secret is not specified"),
        (
            {"X-Worker-Id": "None", "X-Secret": "None"},
            'strconv.ParseInt: parsing "None": invalid syntax',
        ),
        (
            {"X-Worker-Id": "99999999", "X-Secret": "AAAA"},
            "worker id does not match any valid worker",
        ),
    ],
)
def test_worker_auth_failures_have_the_original_messages(tt, headers, message):
    reply = requests.post(tt.base + "/task/submit", data=b"{}", headers=headers, timeout=5)
    assert reply.status_code == 401
    assert reply.json() == {"ok": False, "message": message}


def test_wrong_secret_is_invalid(setup):
    wrong = setup.worker.as_worker({"id": setup.worker.worker_id, "secret": "AAAA"})
    assert submit(wrong, setup.project).json() == {"ok": False, "message": "invalid secret"}
    garbage = setup.worker.as_worker({"id": setup.worker.worker_id, "secret": "!!not base64"})
    assert submit(garbage, setup.project).json() == {"ok": False, "message": "invalid secret"}


def test_auth_status_depends_on_the_endpoint(tt, setup):
    # tt carries the literal "None" headers of the Python client without a worker.
    assert tt.post("/task/submit", {}).status_code == 401
    assert tt.post("/task/bulk_submit", {}).status_code == 401
    assert tt.post("/worker/update", {}).status_code == 401
    assert tt.post("/project/request_access", {"assign": True}).status_code == 401
    assert tt.get(f"/task/get/{setup.project}").status_code == 403
    assert tt.post("/task/release", {}).status_code == 403
    reply = tt.post("/log/info", {"scope": "s", "message": "m", "timestamp": 1})
    assert reply.status_code == 400
    assert reply.json() == {"ok": False, "message": "Could not parse request"}


def test_a_float_overflow_is_a_parse_error(admin):
    reply = admin.post("/project/create", raw=b'{"name": "n", "assign_rate": 1e999}')
    assert (reply.status_code, reply.json()["message"]) == (400, "Could not parse request")
