"""A flushed broker loses only what it held: every message sent afterwards, by a process whose
connection outlived the flush, still reaches its queue (celeryconfig.DIRECT)."""

from __future__ import annotations

import uuid

from domain.common.steps import step_run
from domain.executions.steps import LaunchExecution


def test_a_launch_sent_after_a_flush_on_the_same_connection_reaches_the_host_queue(redis_client):
    queue = f"executions.host.flushed-{uuid.uuid4().hex[:6]}"
    step_run(LaunchExecution(execution_id="first", queue=queue))
    assert redis_client.llen(queue) == 1
    redis_client.flushdb()
    step_run(LaunchExecution(execution_id="second", queue=queue))
    assert redis_client.llen(queue) == 1
    redis_client.delete(queue)
