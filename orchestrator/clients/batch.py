"""The outbound batch runner: one Celery message carries many outbound calls and makes them
concurrently.

A Celery message costs a worker about as much CPU as the HTTP call it carries, so one message per
call would halve what the workers can send. A transient failure (connection error, timeout, 5xx)
is retried with backoff by retrying the batch message with only the items that failed; the retry
keeps the message's task id, so a retried chord header still counts once. After
OUTBOUND_RETRIES retries (OUTBOUND_RETRIES + 1 attempts in all; 0 fails at once) the item's
failure path runs. Nothing here knows a family: callers pass how to load their items and what
one call does.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections

from orchestrator.batch_limits import BATCH_THREADS
from orchestrator.taskkit import PermanentError, TransientError

MISSING = object()
TRANSIENT = "transient"
SKIPPED = "skipped"
C = TypeVar("C")


class _Transient(Exception):
    """A transient failure with attempts left: the batch retries this item."""


def attempt(call: Callable[[], Any], fail: Callable[[str], Any], *, last: bool) -> Any:
    """One call. Returns its answer, or MISSING after running `fail` (a permanent failure, or a
    transient one on the last attempt); raises when another attempt is due."""
    try:
        return call()
    except TransientError as exc:
        if not last:
            raise _Transient(str(exc)) from exc
        fail(str(exc))
    except PermanentError as exc:
        fail(str(exc))
    return MISSING


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """One pool per worker process, made after the fork. Its threads keep their database
    connections between batches (opening one per call cost more than the call itself)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(BATCH_THREADS, thread_name_prefix="outbound")
        return _pool


def _in_thread(step: Callable[[C, bool], str], last: bool) -> Callable[[C], str]:
    def run(context: C) -> str:
        # What a request does on arrival: drop a broken or expired connection.
        close_old_connections()
        try:
            return step(context, last)
        except _Transient:
            return TRANSIENT

    return run


def backoff(retries: int, *, base: float, cap: float) -> float:
    """Exponential backoff with jitter: the countdown before retry number `retries` + 1."""
    return min(base * (2**retries), cap) * random.uniform(0.5, 1.0)


def run_batch(
    task: Any,
    ids: list[str],
    *,
    load: Callable[[list[str]], Mapping[str, C]],
    step: Callable[[C, bool], str],
    again: Callable[[list[str]], tuple],
    countdown: Callable[[int], float],
    settle: Callable[[dict[str, str]], Any] | None = None,
) -> dict[str, str]:
    """Run `step(context, last)` for every loaded id concurrently (ids `load` does not find are
    "skipped"), then `settle(outcomes)`; retry the transient ones as this same message (`task`,
    a bound Celery task) with args `again(ids)` after `countdown(retries)` seconds."""
    retries = task.request.retries
    last = retries >= settings.OUTBOUND_RETRIES
    contexts = load(ids)
    outcomes = dict.fromkeys(ids, SKIPPED)
    found = list(contexts.values())
    outcomes.update(zip(contexts, _threads().map(_in_thread(step, last), found), strict=True))
    if settle is not None:
        settle(outcomes)
    transient = [item for item, outcome in outcomes.items() if outcome == TRANSIENT]
    if transient:
        raise task.retry(
            args=again(transient),
            countdown=countdown(retries),
            max_retries=settings.OUTBOUND_RETRIES,
        )
    return outcomes
