"""Bulk submit against rows already in the table: the COPY fast path's fallbacks."""

from __future__ import annotations

import pytest

from domain.tracker.models import Task
from tests.api.tracker.conftest import submit
from tests.api.tracker.test_tasks import bulk_item, fetch

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
