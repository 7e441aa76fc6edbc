"""Bulk submit against rows already in the table: the COPY fast path's fallbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from domain.tracker.models import Task
from tests.api.tracker.conftest import (
    Tracker,
    grant,
    make_manager,
    make_project,
    make_worker,
    submit,
)
from tests.api.tracker.test_tasks import bulk_item, fetch
from tests.support.processes import start_web

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_without_inner_duplicates_skips_hashes_already_stored(setup):
    submit(setup.worker, setup.project, hash_u64=2)
    items = [bulk_item(setup.project, f"r{i}", hash_u64=i + 1) for i in range(4)]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert (reply.status_code, reply.json()) == (
        200,
        {"ok": True, "content": {"inserted": 3, "duplicates": 1}},
    )
    stored = Task.objects.filter(project_id=setup.project)
    assert sorted(stored.values_list("hash64", flat=True)) == [1, 2, 3, 4]


def test_unique_strings_are_hashed_and_deduplicated_like_single_submits(setup):
    submit(setup.worker, setup.project, unique_string="Hello, world")
    items = [
        bulk_item(setup.project, "dup", unique_string="Hello, world"),
        bulk_item(setup.project, "new", unique_string="a"),
    ]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert reply.json()["content"] == {"inserted": 1, "duplicates": 1}
    assert Task.objects.get(recipe="new").hash64 == 5158252350249958646


def test_verification_count_zero_is_stored_as_one(setup):
    items = [bulk_item(setup.project, "v0", verification_count=0)]
    setup.worker.post("/task/bulk_submit", {"requests": items})
    assert fetch(setup.worker, setup.project)["content"]["task"]["verification_count"] == 1


# --- issue 7 item 9: access before the body, caps, and the memory of a maximal request ---------


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in bytes (VmHWM: the peak resident set so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def _bulk_body(
    project: int, *, tasks: int, size: int, first_hash: int = 1, padded: bool = False
) -> bytes:
    """`{"requests": [...]}` of `tasks` distinct items filling `size` bytes: each item's filler
    is its recipe, or (`padded`) an unknown key holding empty lists, the shape that costs a
    whole-body json.loads the most (~60 bytes of Python objects per 3 bytes of JSON)."""
    head, tail = b'{"requests":[', b"]}"
    per_item = (size - len(head) - len(tail)) // tasks - 1
    items = []
    for i in range(tasks):
        item = f'{{"project":{project},"priority":1,"hash_u64":{first_hash + i},"recipe":"'
        if padded:
            item += 'r","pad":['
            lists = (per_item - len(item) - 2) // 3
            items.append(item + ",".join(["[]"] * lists) + "]}")
        else:
            items.append(item + "r" * (per_item - len(item) - 2) + '"}')
    body = head + ",".join(items).encode() + tail
    assert len(body) <= size
    return body


def _post_bulk(worker: Tracker, body: bytes) -> requests.Response:
    # A maximal body takes a while on a shared machine: more than the suite's usual 10 s.
    return requests.post(
        worker.base + "/task/bulk_submit", data=body, headers=worker.headers(), timeout=600
    )


@dataclass
class Gunicorn:
    url: str
    worker_pid: int
    submitter: Tracker
    stranger: Tracker
    project: int


BULK_BYTES = 64 * 1024 * 1024
BULK_TASKS = 200_000


@pytest.fixture
def gunicorn(subprocess_env, log_dir, redis_client):
    """One real gunicorn worker process at the default caps, a project and two workers."""
    env = {
        **subprocess_env,
        "TRACKER_BULK_MAX_BYTES": str(BULK_BYTES),
        "TRACKER_BULK_MAX_TASKS": str(BULK_TASKS),
    }
    web = start_web(env, log_dir, workers=1)
    try:
        base = web.info["url"]
        (worker_pid,) = [c.pid for c in psutil.Process(web.popen.pid).children()]
        tt = Tracker(base)
        admin = make_manager(tt, "alice")
        project = make_project(admin, "bulk")
        submitter, stranger = make_worker(tt, "walter"), make_worker(tt, "mallory")
        grant(admin, submitter, project)
        yield Gunicorn(base, worker_pid, submitter, stranger, project)
    finally:
        web.stop()


@pytest.mark.parametrize("padded", [False, True], ids=["long recipes", "padded with lists"])
def test_it_keeps_a_maximal_bulk_submit_within_bounded_memory(gunicorn, padded):
    body = _bulk_body(gunicorn.project, tasks=BULK_TASKS, size=BULK_BYTES, padded=padded)
    warm = _bulk_body(gunicorn.project, tasks=100, size=100_000, first_hash=10**9)
    assert gunicorn.submitter.post("/task/bulk_submit", raw=warm).json()["ok"] is True
    before = _status(gunicorn.worker_pid, "VmHWM")
    reply = _post_bulk(gunicorn.submitter, body)
    assert reply.json()["content"]["inserted"] == BULK_TASKS, reply.text[:300]
    growth = _status(gunicorn.worker_pid, "VmHWM") - before
    # Measured: ~160 MiB with long recipes (kept until the COPY) and ~130 MiB padded; parsing
    # the whole body with json.loads first took ~430 MiB and ~1.4 GiB.
    assert growth < 4 * BULK_BYTES, f"peak RSS grew by {growth / 2**20:.0f} MiB"


def test_it_answers_mallory_without_reading_her_maximal_body(gunicorn):
    # Mallory has no submit role anywhere: her answer comes before the body is read.
    body = _bulk_body(gunicorn.project, tasks=BULK_TASKS, size=BULK_BYTES)
    before = _status(gunicorn.worker_pid, "VmHWM")
    reply = _post_bulk(gunicorn.stranger, body)
    assert (reply.status_code, reply.json()) == (
        200,
        {
            "ok": False,
            "message": "unauthorized task submit",
            "content": {"inserted": 0, "duplicates": 0},
        },
    )
    assert _status(gunicorn.worker_pid, "VmHWM") - before < BULK_BYTES // 4
    assert not Task.objects.exists()


def test_it_judges_the_first_items_project_before_parsing_the_rest(admin, setup):
    # Walter may submit to the setup project, not to "other": the rest is never parsed.
    other = make_project(admin, "other")
    raw = b'{"requests": [{"project": %d, "recipe": "a"}, {"project": ' % other
    reply = setup.worker.post("/task/bulk_submit", raw=raw + b"not json at all")
    assert (reply.status_code, reply.json()["message"]) == (200, "unauthorized task submit")


def test_it_refuses_a_bulk_item_over_the_per_item_cap(setup):
    # Default TRACKER_BULK_MAX_TASK_BYTES: 64 KiB of JSON text per item.
    items = [bulk_item(setup.project, "small"), bulk_item(setup.project, "x" * 65536)]
    reply = setup.worker.post("/task/bulk_submit", {"requests": items})
    assert (reply.status_code, reply.json()) == (
        413,
        {"ok": False, "message": "A task in a bulk submit may take at most 65536 bytes"},
    )
    assert not Task.objects.exists()


def test_it_stops_parsing_past_the_item_count_cap(setup, monkeypatch):
    from domain.tracker import conf

    monkeypatch.setattr(conf, "BULK_MAX_TASKS", 3)
    items = [bulk_item(setup.project, str(i)) for i in range(3)]
    assert setup.worker.post("/task/bulk_submit", {"requests": items}).json()["ok"] is True
    raw = json.dumps({"requests": items * 2}).encode()[:-2] + b", garbage"
    reply = setup.worker.post("/task/bulk_submit", raw=raw)
    assert (reply.status_code, reply.json()["message"]) == (400, "Could not parse request")
    assert Task.objects.count() == 3


@pytest.mark.parametrize(
    "raw",
    [
        b'{"REQUESTS": [ITEM], "unknown": {"a": [1, 2]}}',
        b' {"other": null , "Requests" : [ ITEM ] } ',
        b'{"requests": [ITEM, ITEM]}',
    ],
    ids=["other case, unknown key", "spaces, null member", "two items"],
)
def test_it_decodes_the_envelope_as_go_does(setup, raw):
    item = json.dumps(bulk_item(setup.project, "r")).encode()
    reply = setup.worker.post("/task/bulk_submit", raw=raw.replace(b"ITEM", item))
    assert reply.json()["ok"] is True, reply.text


@pytest.mark.parametrize(
    "raw",
    [
        b"null",
        b"[]",
        b'{"requests": null}',
        b'{"requests": [ITEM]',
        b'{"requests": [ITEM]} trailing',
        b'{"requests": [ITEM,]}',
        b'{"requests": [ITEM], "requests": [ITEM]}',
        b'{"requests": [ITEM] "x": 1}',
        b'{"requests": [NaN]}',
        b'{"requests": [ITEM], "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"\xff\xfe{}",
    ],
    ids=[
        "null",
        "array",
        "null requests",
        "unterminated",
        "trailing text",
        "trailing comma",
        "requests twice",
        "missing comma",
        "NaN",
        "deep nesting",
        "not UTF-8",
    ],
)
def test_it_refuses_a_malformed_envelope(setup, raw):
    item = json.dumps(bulk_item(setup.project, "r")).encode()
    reply = setup.worker.post("/task/bulk_submit", raw=raw.replace(b"ITEM", item))
    assert reply.status_code in (400, 413), reply.text
    assert reply.json()["ok"] is False
    assert not Task.objects.exists()
