"""Bad input on every write endpoint of the releases family: a 4xx, and not one row written.

Also the inputs PostgreSQL cannot take at all (NUL characters, offsets past 64 bits), which
answered 500 before the family refused them up front.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps

from domain.common.models import TransitionLog
from domain.releases import services, task_services
from domain.releases.models import Event, ReleaseNote, Task

pytestmark = pytest.mark.django_db

MALFORMED = object()  # the raw body `{"name": ` (not JSON)
NUL = "bad\u0000value"


@pytest.fixture
def world(studies) -> dict[str, str]:
    """One row of every writable kind: a running task of a release, its service, a note, an
    event. Each path below names them by key."""
    service, _ = task_services.task_service_create(name="S", url="http://ts.example", author="jon")
    release = services.release_create(name="R", studies=["SD_00000001"])
    services.release_prepare(release_id=release.kf_id)
    task = Task.objects.get(release=release)
    services.task_mark_initialized(task_id=task.kf_id)
    services.release_start(release_id=release.kf_id)
    note = ReleaseNote.objects.create(release=release, description="n")
    event = Event.objects.create(message="e", release=release)
    return {
        "release": release.kf_id,
        "task": task.kf_id,
        "service": service.kf_id,
        "note": note.kf_id,
        "event": event.kf_id,
    }


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of the family's tables and the transition log, in a comparable form."""
    models = [*apps.get_app_config("releases").get_models(), TransitionLog]
    return {
        m._meta.label: sorted(
            (
                {k: str(v) for k, v in row.items()}
                for row in m.objects.values()  # type: ignore[attr-defined]
            ),
            key=repr,
        )
        for m in models
    }


def _refs(world: dict[str, str]) -> dict[str, str]:
    return {"r": world["release"], "s": world["service"], "t": world["task"]}


CASES: list[tuple[str, str, Any]] = [
    # /releases
    ("POST", "/releases", MALFORMED),
    ("POST", "/releases", ["not", "an", "object"]),
    ("POST", "/releases", {"name": NUL, "studies": ["SD_00000001"]}),
    ("POST", "/releases", {"name": "R", "studies": ["SD_00000001"], "tags": [NUL]}),
    ("POST", "/releases", {"name": "R", "studies": [NUL]}),
    ("POST", "/releases", {"name": "R", "studies": ["SD_00000001"], "tags": [5]}),
    ("PATCH", "/releases/{release}", MALFORMED),
    ("PATCH", "/releases/{release}", {"name": None}),
    ("PATCH", "/releases/{release}", {"description": NUL}),
    ("PATCH", "/releases/{release}", {"studies": ["SD_NOPE0000"]}),
    ("PATCH", "/releases/{release}", {"is_major": "sometimes"}),
    ("PUT", "/releases/{release}", MALFORMED),
    ("PUT", "/releases/{release}", {"name": "P"}),
    ("PUT", "/releases/{release}", {"name": "P", "studies": []}),
    ("PUT", "/releases/{release}", {"name": "P", "studies": ["SD_00000001"], "author": NUL}),
    ("PUT", "/releases/{release}", {"name": "x" * 257, "studies": ["SD_00000001"]}),
    # /tasks
    ("POST", "/tasks", MALFORMED),
    ("POST", "/tasks", {"release": "{r}", "task_service": "{s}", "progress": 101}),
    ("POST", "/tasks", {"release": "{r}", "task_service": "{s}", "state": "running"}),
    ("POST", "/tasks", {"release": "{r}", "task_service": "{s}", "state": NUL}),
    ("POST", "/tasks", {"release": "RE_\u0000", "task_service": "{s}"}),
    ("PATCH", "/tasks/{task}", MALFORMED),
    ("PATCH", "/tasks/{task}", {"state": "publishing"}),
    ("PATCH", "/tasks/{task}", {"state": "staged\u0000"}),
    ("PATCH", "/tasks/{task}", {"progress": "lots"}),
    ("PATCH", "/tasks/{task}", {"progress": True}),
    ("PUT", "/tasks/{task}", MALFORMED),
    ("PUT", "/tasks/{task}", {"state": "waiting"}),
    ("PUT", "/tasks/{task}", {"progress": [1]}),
    # /task-services
    ("POST", "/task-services", MALFORMED),
    ("POST", "/task-services", {"name": "S", "author": "a", "url": "httpx://127.0.0.1:1"}),
    ("POST", "/task-services", {"name": NUL, "author": "a", "url": "http://127.0.0.1:1"}),
    ("POST", "/task-services", {"name": "S", "url": "http://127.0.0.1:1"}),
    ("PATCH", "/task-services/{service}", MALFORMED),
    ("PATCH", "/task-services/{service}", {"url": "httpx://127.0.0.1:1"}),
    ("PATCH", "/task-services/{service}", {"description": NUL}),
    ("PATCH", "/task-services/{service}", {"enabled": "sometimes"}),
    ("PUT", "/task-services/{service}", MALFORMED),
    ("PUT", "/task-services/{service}", {"name": "S"}),
    ("PUT", "/task-services/{service}", {"name": "S", "author": NUL, "url": "http://ts.example"}),
    # /release-notes
    ("POST", "/release-notes", MALFORMED),
    ("POST", "/release-notes", {"release": "RE_00000000"}),
    ("POST", "/release-notes", {"release": "{r}", "description": NUL}),
    ("POST", "/release-notes", {"release": "{r}", "study": "SD_00000002"}),
    ("PATCH", "/release-notes/{note}", MALFORMED),
    ("PATCH", "/release-notes/{note}", {"release": None}),
    ("PATCH", "/release-notes/{note}", {"author": NUL}),
    ("PUT", "/release-notes/{note}", MALFORMED),
    ("PUT", "/release-notes/{note}", {"description": "no release"}),
    ("PUT", "/release-notes/{note}", {"release": "{r}", "description": "x" * 5001}),
    # /events
    ("POST", "/events", MALFORMED),
    ("POST", "/events", {"event_type": "fatal", "message": "m"}),
    ("POST", "/events", {"message": NUL}),
    ("POST", "/events", {"message": "m", "task": "TA_00000000"}),
    ("PATCH", "/events/{event}", MALFORMED),
    ("PATCH", "/events/{event}", {"event_type": "fatal"}),
    ("PATCH", "/events/{event}", {"message": NUL}),
    ("PUT", "/events/{event}", MALFORMED),
    ("PUT", "/events/{event}", {"message": "x" * 1001}),
    ("PUT", "/events/{event}", {"message": NUL}),
]


def _fill(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**refs) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, refs) for v in value]
    return value


@pytest.mark.parametrize(
    ("method", "path", "body"),
    CASES,
    ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(CASES)],
)
def test_bad_input_on_a_write_endpoint_is_4xx_and_writes_nothing(admin, world, method, path, body):
    url = path.format(**world)
    before = _snapshot()
    if body is MALFORMED:
        resp = admin.send(method, url, raw='{"name": ')
    else:
        resp = admin.send(method, url, _fill(body, _refs(world)))
    assert 400 <= resp.status_code < 500, resp.content
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("path", "params", "body"),
    [
        ("/tasks", {"release": "\x00"}, {"release": ["Null characters are not allowed."]}),
        (
            "/tasks",
            {"task_service": "TS\x00"},
            {"task_service": ["Null characters are not allowed."]},
        ),
        ("/tasks", {"state": "\x00"}, {"state": ["Null characters are not allowed."]}),
        ("/releases", {"state": "staged\x00"}, {"state": ["Null characters are not allowed."]}),
        ("/events", {"task": "\x00"}, {"task": ["Null characters are not allowed."]}),
        ("/release-notes", {"author": "\x00"}, {"author": ["Null characters are not allowed."]}),
        ("/releases/%00", {}, {"detail": "Null characters are not allowed."}),
        ("/tasks/TA_%00", {}, {"detail": "Null characters are not allowed."}),
        ("/studies/SD_%00/releases", {}, {"detail": "Null characters are not allowed."}),
    ],
)
def test_a_null_character_in_a_filter_or_path_is_400(anon, world, path, params, body):
    resp = anon.get(path, **params)
    assert resp.status_code == 400
    assert resp.json() == body


def test_a_null_character_in_a_name_is_400_naming_the_field(admin, studies):
    resp = admin.post("/releases", {"name": "R\u0000", "studies": ["SD_00000001"]})
    assert resp.status_code == 400
    assert resp.json() == {"name": ["Null characters are not allowed."]}


def test_a_null_character_in_a_delete_path_is_400(admin, world):
    before = _snapshot()
    resp = admin.delete("/releases/%00")
    assert resp.status_code == 400
    assert resp.json() == {"detail": "Null characters are not allowed."}
    assert _snapshot() == before


@pytest.mark.parametrize("param", ["limit", "offset"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "9" * 40])
def test_a_window_past_64_bits_is_400(anon, world, param, value):
    resp = anon.get("/releases", **{param: value})
    assert resp.status_code == 400
    assert "detail" in resp.json()


def test_a_large_offset_within_64_bits_is_an_empty_page(anon, world):
    resp = anon.get("/tasks", offset=str(2**62))
    assert resp.status_code == 200
    assert resp.json()["results"] == [] and resp.json()["count"] == 1


# Found by the fuzzer (tests/api/conformance/): ninja read a JSON body that is not
# an object as an object without fields, so a PATCH of `[[]]` answered 200.
NOT_OBJECTS = [
    ("[[]]", "list"),
    ('"text"', "str"),
    ("7", "int"),
    ("true", "bool"),
    ("null", "NoneType"),
]


@pytest.mark.parametrize(("raw", "kind"), NOT_OBJECTS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/events/{event}"),
        ("PUT", "/events/{event}"),
        ("PATCH", "/tasks/{task}"),
        ("PATCH", "/releases/{release}"),
        ("PATCH", "/release-notes/{note}"),
        ("POST", "/releases"),
    ],
)
def test_it_refuses_alices_json_body_that_is_not_an_object(admin, world, method, path, raw, kind):
    before = _snapshot()
    resp = admin.send(method, path.format(**world), raw=raw)
    assert resp.status_code == 400
    assert resp.json() == {
        "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]
    }
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/releases/{release}", "description"),
        ("/releases/{release}", "studies"),
        ("/releases/{release}", "tags"),
        ("/task-services/{service}", "url"),
        ("/release-notes/{note}", "release"),
        ("/events/{event}", "message"),
        ("/tasks/{task}", "state"),
    ],
)
def test_it_answers_a_null_for_a_limited_field_with_the_familys_message(admin, world, path, field):
    # The document leaves null out of these fields; the server still names the field, not 500.
    before = _snapshot()
    resp = admin.patch(path.format(**world), {field: None})
    assert resp.status_code == 400
    assert resp.json() == {field: ["This field may not be null."]}
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/studies", "GET"),
        ("OPTIONS", "/studies", "GET"),
        ("PUT", "/studies/SD_00000001", "GET"),
        ("OPTIONS", "/studies/SD_00000001", "GET"),
        ("DELETE", "/tasks/{task}", "GET, PATCH, PUT"),
        ("OPTIONS", "/tasks/{task}", "GET, PATCH, PUT"),
    ],
)
def test_it_names_the_methods_a_read_only_route_serves(admin, world, method, path, allowed):
    resp = admin.send(method, path.format(**world))
    assert resp.status_code == 405
    assert resp["Allow"] == allowed
    assert resp.json() == {"detail": f'Method "{method}" not allowed.'}


def test_it_ignores_a_field_alice_sends_that_the_operation_does_not_take_nul_or_not(admin, world):
    # As DRF did: an unknown field is never read, so a NUL in it (or its name) changes nothing;
    # a NUL in a field the operation takes is still refused.
    url = f"/events/{world['event']}"
    resp = admin.patch(url, {"message": "seen", "kf_id": NUL, NUL: "x", "extra": [{"a": NUL}]})
    assert resp.status_code == 200 and resp.json()["message"] == "seen"
    resp = admin.patch(url, {"message": NUL, "extra": "x"})
    assert resp.status_code == 400
    assert resp.json() == {"message": ["Null characters are not allowed."]}
