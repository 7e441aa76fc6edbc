"""The task queue: submit, bulk submit, assignment and release, and the timed-out reclaim sweep.

Project-wide resets (the maintenance endpoints and the operator console) are in projects.py; the
SQL that differs between PostgreSQL and SQLite is in sql/.

These are the hot paths, so each is a small number of SQL statements. Assignment is one
`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`: concurrent workers skip each other's
candidate rows instead of queueing on a global lock, and every state change is a compare-and-set
on `assignee_id = <caller>` so a stale or repeated release is a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

from django.db import connection, transaction

from domain.tracker import ratelimit
from domain.tracker.errors import SubmitUnauthorized, TrackerError
from domain.tracker.models import NEW, TR_FAIL, TR_OK, TR_SKIP, WorkerAccess
from domain.tracker.siphash import unique_string_hash
from domain.tracker.sql import dialect
from domain.tracker.sql.common import (
    CONTEXT_SQL,
    INSERT_TASK_SQL,
    PROJECT_KEYS,
    TASK_KEYS,
)

DUPLICATE_MESSAGE = 'pq: duplicate key value violates unique constraint "project_hash_unique"'

SKIP_SQL = """
UPDATE tracker_task SET status = 1, assignee_id = NULL
WHERE id = %(task)s AND assignee_id = %(worker)s
"""
UNASSIGN_SQL = """
UPDATE tracker_task SET assignee_id = NULL WHERE id = %(task)s AND assignee_id = %(worker)s
"""


class SubmitRequest(NamedTuple):
    """One task as submitted (a tuple: bulk submits build 100,000 of them)."""

    project: int
    max_retries: int
    recipe: str
    priority: int
    max_assign_time: int
    hash_u64: int
    unique_string: str
    verification_count: int

    def valid(self) -> bool:
        return not (
            self.max_retries < 0
            or not self.recipe
            or self.project == 0
            or (self.hash_u64 != 0 and self.unique_string != "")
        )

    def hash64(self) -> int | None:
        """The task's deduplication key: a unique string's hash, else hash_u64; 0 is none."""
        if self.unique_string:
            return unique_string_hash(self.unique_string) or None
        return self.hash_u64 or None

    def new_task_values(self, hash64: int | None) -> tuple:
        """The values the task is written with, in sql.common.NEW_TASK_NAMES order; `hash64` is
        `self.hash64()`, which a bulk submit computes once per task (its COPY may run twice)."""
        return (
            self.project,
            self.priority,
            0,  # retries
            self.max_retries,
            NEW,
            self.recipe,
            self.max_assign_time,
            # The original stores a verification_count of 0 as 1: one success closes the task.
            self.verification_count or 1,
            hash64,
        )


# The project's submit rate and whether the worker holds an approved submit role, in one query.
SUBMIT_ACCESS_SQL = """
SELECT p.submit_rate,
       EXISTS (SELECT 1 FROM tracker_workeraccess a
               WHERE a.project_id = p.id AND a.worker_id = %(worker)s
                 AND a.role_submit AND NOT a.request)
FROM tracker_project p WHERE p.id = %(project)s
"""


def _submit_rate(worker_id: int, project_id: int) -> float:
    """The project's submit rate once the worker may submit to it.

    Access is judged before the rate bucket is touched, so a worker without access can neither
    take a project's tokens nor learn its delay. Submitting always needs an approved access row
    with the submit role, even on a public project.
    """
    with connection.cursor() as cur:
        cur.execute(SUBMIT_ACCESS_SQL, {"project": project_id, "worker": worker_id})
        row = cur.fetchone()
    if row is None:
        raise TrackerError(404, "Project not found")
    if not row[1]:
        raise SubmitUnauthorized()
    return row[0]


def worker_may_submit(*, worker_id: int) -> bool:
    """Whether the worker may submit to any project: a bulk submit's body is read only then."""
    return WorkerAccess.objects.filter(
        worker_id=worker_id, role_submit=True, request=False
    ).exists()


def task_submit(*, worker_id: int, req: SubmitRequest) -> None:
    """Insert one task; raises TrackerError with the original's answers.

    A granted token is never given back, even when the insert fails (a duplicate): the
    original's Reservation.Cancel restores nothing once the time to act has passed.
    """
    if not req.valid():
        raise TrackerError(400, "Invalid task")
    rate = _submit_rate(worker_id, req.project)
    ratelimit.reserve(subject=req.project, kind="submit", rate=rate)
    with connection.cursor() as cur:
        cur.execute(INSERT_TASK_SQL + " RETURNING id", req.new_task_values(req.hash64()))
        if cur.fetchone() is None:
            raise TrackerError(400, DUPLICATE_MESSAGE)


@dataclass(frozen=True)
class BulkResult:
    inserted: int
    duplicates: int


def task_bulk_submit(*, worker_id: int, reqs: Iterable[SubmitRequest]) -> BulkResult:
    """Insert many tasks of one project; duplicates (by hash) are skipped and counted.

    `reqs` may be lazy (the API parses the body item by item): the first request names the
    project, and the worker's access to it is checked before the rest is read, so a worker
    without access never gets a large body parsed. On a rate-limited project the whole body
    is then read and checked, and N tokens are reserved and kept, before anything is written.
    On a project without a limit the rest is read as the rows are written (the COPY), so
    parsing here and inserting in PostgreSQL use both cores at once; an item refused on the
    way (400, 413) rolls the whole batch back, so nothing of it is written, as before.
    """
    items = iter(reqs)
    first = next(items, None)
    if first is None:
        raise TrackerError(400, "Could not parse request")
    project_id = _valid_bulk_item(first, first.project).project
    submit_rate = _submit_rate(worker_id, project_id)
    rest = (_valid_bulk_item(req, project_id) for req in items)
    batch = NewTaskBatch(chain((first,), rest))
    if ratelimit.is_limited(submit_rate):
        batch.read_all()
        ratelimit.reserve(subject=project_id, kind="submit", rate=submit_rate, n=len(batch))
    inserted = dialect().tasks_insert(tasks=batch)
    return BulkResult(inserted=inserted, duplicates=len(batch) - inserted)


def _valid_bulk_item(req: SubmitRequest, project_id: int) -> SubmitRequest:
    if not req.valid():
        raise TrackerError(400, "Invalid request")
    if req.project != project_id:
        raise TrackerError(400, "All the tasks in a bulk submit must be of the same project")
    return req


class NewTaskBatch:
    """A bulk submit's tasks as the rows they are written as (sql.NewTasks), made on demand: the
    requests are read from `reqs` (lazy: the body being parsed) as the rows are first iterated
    and kept, because the COPY may read them twice; 100,000 rows need not sit in memory beside
    their requests. Its length is known once it has been read to the end."""

    def __init__(self, reqs: Iterable[SubmitRequest]) -> None:
        self.reqs: list[SubmitRequest] = []
        self.hashes: list[int | None] = []
        self._unread = iter(reqs)

    def __iter__(self) -> Iterator[tuple]:
        # A second pass replays what the first read, then reads on where it stopped.
        yield from map(SubmitRequest.new_task_values, self.reqs, self.hashes)
        for req in self._unread:
            hash64 = req.hash64()
            self.reqs.append(req)
            self.hashes.append(hash64)
            yield req.new_task_values(hash64)

    def read_all(self) -> None:
        for _ in self:
            pass

    def __len__(self) -> int:
        return len(self.reqs)


def task_assign(*, worker_id: int, project_id: int) -> dict | None:
    """Assign the best eligible task of the project to the worker, or None ("No task available").

    Raises the original's answers in its order: paused worker, unknown project, rate limit;
    a worker without assign access to a private project is answered None without a token.
    """
    with connection.cursor() as cur:
        cur.execute(CONTEXT_SQL, {"project": project_id, "worker": worker_id})
        row = cur.fetchone()
    # The worker's `paused` is read here on every request: a pause holds at once everywhere.
    if row is None or row[0]:
        raise TrackerError(400, "A manager has paused you")
    if row[1] is None:
        raise TrackerError(404, "Project not found")
    project, may_assign = dict(zip(PROJECT_KEYS, row[1:-1], strict=True)), row[-1]
    if not (project["public"] or may_assign):
        # Access before the bucket: a worker that may not take tasks never spends a token.
        return None
    # A granted token is kept even when nothing is assigned, as in the original (its
    # Reservation.Cancel restores nothing once the time to act has passed): a crowd polling an
    # empty project is limited like any other.
    ratelimit.reserve(subject=project_id, kind="assign", rate=project["assign_rate"])
    if project["paused"]:
        return None
    with connection.cursor() as cur:
        cur.execute(
            dialect().ASSIGN_SQL,
            {"worker": worker_id, "now": int(time.time()), "project": project_id},
        )
        row = cur.fetchone()
    if row is None:
        return None
    task = dict(zip(TASK_KEYS, row, strict=True))
    task["project"] = project
    return task


def task_release(*, worker_id: int, task_id: int, result: int, verification: int) -> bool:
    """Apply a worker's result; True when the task changed as asked (closed, failed, skipped)."""
    if task_id == 0:
        raise TrackerError(400, "Invalid request")
    params = {"task": task_id, "worker": worker_id}
    sql = dialect()
    with connection.cursor() as cur:
        if result == TR_OK:
            if sql.task_close(cursor=cur, params=params, single=True):
                return True
            return _release_verified(cur, params, verification)
        if result == TR_FAIL:
            cur.execute(sql.FAIL_SQL, params)
            return cur.rowcount == 1
        if result == TR_SKIP:
            cur.execute(SKIP_SQL, params)
            return cur.rowcount == 1
    return False


def _release_verified(cur, params: dict, verification: int) -> bool:
    """Record this worker's verification hash; close once enough distinct workers agree."""
    sql = dialect()
    with transaction.atomic():
        cur.execute(sql.HELD_TASK_SQL, params)
        row = cur.fetchone()
        if row is None:
            return False
        cur.execute(
            "INSERT INTO tracker_workerverifiestask (task_id, worker_id, verification_hash)"
            " VALUES (%(task)s, %(worker)s, %(hash)s)"
            " ON CONFLICT (task_id, worker_id)"
            " DO UPDATE SET verification_hash = EXCLUDED.verification_hash",
            {**params, "hash": verification},
        )
        cur.execute(
            "SELECT count(*) FROM tracker_workerverifiestask WHERE task_id = %(task)s"
            " GROUP BY verification_hash ORDER BY count(*) DESC LIMIT 1",
            params,
        )
        if cur.fetchone()[0] >= row[0]:
            return sql.task_close(cursor=cur, params=params, single=False)
        cur.execute(UNASSIGN_SQL, params)
        return False


def tasks_reclaim_timed_out(*, now: int | None = None) -> int:
    """Unassign NEW tasks held past their max_assign_time (retries unchanged)."""
    now = int(time.time()) if now is None else now
    with connection.cursor() as cur:
        cur.execute(dialect().RECLAIM_SQL, [now])
        return cur.rowcount
