"""orchestrator/coalesce.py: a burst of asks for one task sends one message until it runs."""

from __future__ import annotations

import uuid

from orchestrator.coalesce import asks_cleared, first_ask


def test_it_lets_only_the_first_ask_send_until_the_work_runs(redis_client):
    flag = f"test-{uuid.uuid4().hex}"
    assert first_ask(flag) is True
    assert [first_ask(flag) for _ in range(5)] == [False] * 5
    asks_cleared(flag)
    assert first_ask(flag) is True
