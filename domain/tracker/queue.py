"""The task queue: submit, bulk submit, assignment and release, and the maintenance sweeps.

These are the hot paths, so each is a small number of SQL statements. Assignment is one
`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`: concurrent workers skip each other's
candidate rows instead of queueing on a global lock, and every state change is a compare-and-set
on `assignee_id = <caller>` so a stale or repeated release is a no-op.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction

from domain.common.vendor import by_vendor, vendor_sql
from domain.tracker import queue_sqlite, ratelimit
from domain.tracker.errors import SubmitUnauthorized, TrackerError
from domain.tracker.models import FAILED, NEW, TR_FAIL, TR_OK, TR_SKIP, Task, WorkerAccess
from domain.tracker.siphash import unique_string_hash

DUPLICATE_MESSAGE = 'pq: duplicate key value violates unique constraint "project_hash_unique"'

# {lock} is `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers and needs none.
_ASSIGN_TEMPLATE = """
UPDATE tracker_task SET assignee_id = %(worker)s, assign_time = %(now)s
WHERE id = (
    SELECT t.id FROM tracker_task t
    WHERE t.project_id = %(project)s AND t.status = 1 AND t.assignee_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM tracker_workerverifiestask v
                      WHERE v.task_id = t.id AND v.worker_id = %(worker)s)
    ORDER BY t.priority DESC, t.id ASC
    LIMIT 1
    {lock}
)
RETURNING id, priority, assignee_id, retries, max_retries, status, recipe, max_assign_time,
          assign_time, verification_count
"""
ASSIGN_SQL = _ASSIGN_TEMPLATE.format(lock="FOR UPDATE SKIP LOCKED")

# Deleting an assigned task closes it: a tally row counts it for the project and the worker and a
# copy goes to the chained project (a duplicate hash there is skipped), all in this one statement.
# The tally is an insert rather than `UPDATE project SET closed_task_count + 1`, which would make
# every close in a project wait for the previous one's commit on that row's lock.
CLOSE_SQL = """
WITH closed AS (
    DELETE FROM tracker_task
    WHERE id = %(task)s AND assignee_id = %(worker)s {extra}
    RETURNING project_id, assignee_id, priority, max_retries, recipe, max_assign_time,
              verification_count, hash64
), tally AS (
    INSERT INTO tracker_closedtally (project_id, worker_id)
    SELECT project_id, assignee_id FROM closed
), chained AS (
    INSERT INTO tracker_task (project_id, priority, retries, max_retries, status, recipe,
                              max_assign_time, verification_count, hash64)
    SELECT p.chain_id, c.priority, 0, c.max_retries, 1, c.recipe, c.max_assign_time,
           c.verification_count, c.hash64
    FROM closed c JOIN tracker_project p ON p.id = c.project_id
    WHERE p.chain_id IS NOT NULL
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM closed
"""
CLOSE_SINGLE_SQL = CLOSE_SQL.format(extra="AND verification_count <= 1")
CLOSE_VERIFIED_SQL = CLOSE_SQL.format(extra="")


def _close_postgresql(cur, params: dict, *, single: bool) -> bool:
    cur.execute(CLOSE_SINGLE_SQL if single else CLOSE_VERIFIED_SQL, params)
    return cur.fetchone()[0] == 1


# SQLite has no data-modifying CTEs: there the close is several statements in one transaction.
_close = by_vendor(postgresql=_close_postgresql, sqlite=queue_sqlite.close)

FAIL_SQL = """
UPDATE tracker_task
SET retries = LEAST(retries + 1, 32767), assignee_id = NULL,
    status = CASE WHEN retries + 1 >= max_retries THEN 2 ELSE 1 END
WHERE id = %(task)s AND assignee_id = %(worker)s
"""
SKIP_SQL = """
UPDATE tracker_task SET status = 1, assignee_id = NULL
WHERE id = %(task)s AND assignee_id = %(worker)s
"""

# Each statement below that PostgreSQL alone speaks, with its SQLite equivalent (queue_sqlite.py).
ASSIGN = {"postgresql": ASSIGN_SQL, "sqlite": _ASSIGN_TEMPLATE.format(lock="")}
FAIL = {"postgresql": FAIL_SQL, "sqlite": queue_sqlite.FAIL_SQL}
HELD_TASK = {
    "postgresql": "SELECT verification_count FROM tracker_task"
    " WHERE id = %(task)s AND assignee_id = %(worker)s FOR UPDATE",
    "sqlite": queue_sqlite.HELD_TASK_SQL,
}
RECLAIM = {
    "postgresql": "UPDATE tracker_task SET assignee_id = NULL, assign_time = NULL"
    " WHERE status = 1 AND assignee_id IS NOT NULL"
    # numeric: assign_time + a huge max_assign_time must not overflow bigint.
    " AND assign_time::numeric + max_assign_time < %s",
    "sqlite": queue_sqlite.RECLAIM_SQL,
}

UNASSIGN_SQL = """
UPDATE tracker_task SET assignee_id = NULL WHERE id = %(task)s AND assignee_id = %(worker)s
"""

TASK_KEYS = (
    "id",
    "priority",
    "assignee",
    "retries",
    "max_retries",
    "status",
    "recipe",
    "max_assign_time",
    "assign_time",
    "verification_count",
)


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
        if self.unique_string:
            return unique_string_hash(self.unique_string) or None
        return self.hash_u64 or None


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
    if req.verification_count == 0:
        req = _with_count(req)
    if not req.valid():
        raise TrackerError(400, "Invalid task")
    ratelimit.reserve(req.project, "submit", _submit_rate(worker_id, req.project))
    _insert_one(req)


def _with_count(req: SubmitRequest) -> SubmitRequest:
    return req._replace(verification_count=1)


def _insert_one(req: SubmitRequest) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tracker_task (project_id, priority, retries, max_retries, status, recipe,"
            " max_assign_time, verification_count, hash64)"
            " VALUES (%s, %s, 0, %s, 1, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [
                req.project,
                req.priority,
                req.max_retries,
                req.recipe,
                req.max_assign_time,
                req.verification_count,
                req.hash64(),
            ],
        )
        if cur.fetchone() is None:
            raise TrackerError(400, DUPLICATE_MESSAGE)


@dataclass(frozen=True)
class BulkResult:
    inserted: int
    duplicates: int


def task_bulk_submit(*, worker_id: int, reqs: Iterable[SubmitRequest]) -> BulkResult:
    """Insert many tasks of one project with COPY; duplicates (by hash) are skipped and counted.

    `reqs` may be lazy (the API parses the body item by item): the first request names the
    project, and the worker's access to it is checked before the rest is read, so a worker
    without access never gets a large body parsed. Then N tokens are reserved and kept.
    """
    items = iter(reqs)
    first = next(items, None)
    if first is None:
        raise TrackerError(400, "Could not parse request")
    project_id = _valid_bulk_item(first, first.project).project
    submit_rate = _submit_rate(worker_id, project_id)
    batch = [first]
    batch.extend(_valid_bulk_item(req, project_id) for req in items)
    ratelimit.reserve(project_id, "submit", submit_rate, len(batch))
    inserted = _copy_tasks(project_id, batch)
    return BulkResult(inserted=inserted, duplicates=len(batch) - inserted)


def _valid_bulk_item(req: SubmitRequest, project_id: int) -> SubmitRequest:
    if not req.valid():
        raise TrackerError(400, "Invalid request")
    if req.project != project_id:
        raise TrackerError(400, "All the tasks in a bulk submit must be of the same project")
    return req


_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_COLUMNS = (
    "project_id, priority, retries, max_retries, status, recipe, max_assign_time,"
    " verification_count, hash64"
)

INSERT_FROM_BULK_SQL = (
    f"INSERT INTO tracker_task ({COPY_COLUMNS}) SELECT {COPY_COLUMNS} FROM tracker_bulk"  # noqa: S608
    " ON CONFLICT DO NOTHING"
)


def _dedup_hash(r: SubmitRequest) -> int:
    return unique_string_hash(r.unique_string) if r.unique_string else r.hash_u64


def _copy_lines(project_id: int, reqs: list[SubmitRequest], hashes: list[int]) -> Iterator[str]:
    """The COPY line of each task (a verification_count of 0 is 1)."""
    escapes = _COPY_ESCAPES
    for r, h in zip(reqs, hashes, strict=True):
        recipe = r.recipe
        # Most recipes need no escaping; checking is ten times cheaper than translating.
        if "\\" in recipe or not recipe.isprintable():
            recipe = recipe.translate(escapes)
        yield (
            f"{project_id}\t{r.priority}\t0\t{r.max_retries}\t1\t{recipe}"
            f"\t{r.max_assign_time}\t{r.verification_count or 1}\t{h or _NULL}\n"
        )


class _CopySource:
    """The COPY text of a batch, made as psycopg2 reads it: a bulk submit's whole COPY text (as
    large as its body, and four times that in a StringIO) never sits in memory at once."""

    def __init__(self, project_id: int, reqs: list[SubmitRequest], hashes: list[int]) -> None:
        self.args = (project_id, reqs, hashes)
        self.rewind()

    def rewind(self) -> None:
        self.lines = _copy_lines(*self.args)

    def read(self, size: int = -1) -> str:
        # psycopg2 sends whatever one call returns, so a chunk may overshoot `size` by a line.
        chunk, length = [], 0
        for line in self.lines:
            chunk.append(line)
            length += len(line)
            if length >= size > 0:
                break
        return "".join(chunk)


def copy_rows(project_id: int, reqs: list[SubmitRequest]) -> io.StringIO:
    """The COPY text of these tasks (also used by bench/queue for its direct-COPY floor)."""
    hashes = [_dedup_hash(r) for r in reqs]
    return io.StringIO("".join(_copy_lines(project_id, reqs, hashes)))


def _copy_tasks_postgresql(project_id: int, reqs: list[SubmitRequest]) -> int:
    hashes = [_dedup_hash(r) for r in reqs]
    data = _CopySource(project_id, reqs, hashes)
    distinct = {h for h in hashes if h}
    with transaction.atomic(), connection.cursor() as cur:
        raw = cur.cursor
        if len(distinct) == sum(1 for h in hashes if h):
            # No duplicate within the batch: COPY straight into the table, which only fails if a
            # hash is already there (or another submit is inserting it right now); then the
            # batch goes through the deduplicating path below. The raw cursor raises the
            # driver's IntegrityError, which Django does not translate.
            try:
                with transaction.atomic():
                    raw.copy_expert(f"COPY tracker_task ({COPY_COLUMNS}) FROM STDIN", data)
                return len(reqs)
            except (IntegrityError, connection.Database.IntegrityError):
                data.rewind()
        raw.execute(
            "CREATE TEMP TABLE tracker_bulk (project_id bigint, priority smallint,"
            " retries smallint, max_retries smallint, status smallint, recipe text,"
            " max_assign_time bigint, verification_count smallint, hash64 bigint) ON COMMIT DROP"
        )
        raw.copy_expert(f"COPY tracker_bulk ({COPY_COLUMNS}) FROM STDIN", data)
        raw.execute(INSERT_FROM_BULK_SQL)
        return raw.rowcount


# SQLite has no COPY: there a bulk submit is one executemany.
_copy_tasks = by_vendor(postgresql=_copy_tasks_postgresql, sqlite=queue_sqlite.insert_tasks)


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
    ratelimit.reserve(project_id, "assign", project["assign_rate"])
    if project["paused"]:
        return None
    with connection.cursor() as cur:
        cur.execute(
            vendor_sql(ASSIGN),
            {"worker": worker_id, "now": int(time.time()), "project": project_id},
        )
        row = cur.fetchone()
    if row is None:
        return None
    task = dict(zip(TASK_KEYS, row, strict=True))
    task["project"] = project
    return task


PROJECT_KEYS = (
    "id",
    "priority",
    "name",
    "clone_url",
    "git_repo",
    "version",
    "motd",
    "public",
    "hidden",
    "chain",
    "paused",
    "assign_rate",
    "submit_rate",
)
# The project's wire object and whether the worker holds an approved assign role, in one query.
PROJECT_SQL = """
SELECT p.id, p.priority, p.name, p.clone_url, p.git_repo, p.version, p.motd, p.public, p.hidden,
       COALESCE(p.chain_id, 0), p.paused, p.assign_rate, p.submit_rate,
       EXISTS (SELECT 1 FROM tracker_workeraccess a
               WHERE a.project_id = p.id AND a.worker_id = %(worker)s
                 AND a.role_assign AND NOT a.request)
FROM tracker_project p WHERE p.id = %(project)s
"""


# Everything /task/get needs before assigning, in one query: the worker's pause flag, the
# project's wire object and whether the worker holds an approved assign role.
CONTEXT_SQL = """
SELECT w.paused, p.id, p.priority, p.name, p.clone_url, p.git_repo, p.version, p.motd, p.public,
       p.hidden, COALESCE(p.chain_id, 0), p.paused, p.assign_rate, p.submit_rate,
       EXISTS (SELECT 1 FROM tracker_workeraccess a
               WHERE a.project_id = p.id AND a.worker_id = w.id
                 AND a.role_assign AND NOT a.request)
FROM tracker_worker w LEFT JOIN tracker_project p ON p.id = %(project)s
WHERE w.id = %(worker)s
"""


def project_with_access(project_id: int, worker_id: int = 0) -> tuple[dict, bool] | None:
    with connection.cursor() as cur:
        cur.execute(PROJECT_SQL, {"project": project_id, "worker": worker_id})
        row = cur.fetchone()
    if row is None:
        return None
    return dict(zip(PROJECT_KEYS, row[:-1], strict=True)), row[-1]


def project_for_task(project_id: int) -> dict | None:
    found = project_with_access(project_id)
    return None if found is None else found[0]


def task_release(*, worker_id: int, task_id: int, result: int, verification: int) -> bool:
    """Apply a worker's result; True when the task changed as asked (closed, failed, skipped)."""
    if task_id == 0:
        raise TrackerError(400, "Invalid request")
    params = {"task": task_id, "worker": worker_id}
    with connection.cursor() as cur:
        if result == TR_OK:
            if _close(cur, params, single=True):
                return True
            return _release_verified(cur, params, verification)
        if result == TR_FAIL:
            cur.execute(vendor_sql(FAIL), params)
            return cur.rowcount == 1
        if result == TR_SKIP:
            cur.execute(SKIP_SQL, params)
            return cur.rowcount == 1
    return False


def _release_verified(cur, params: dict, verification: int) -> bool:
    """Record this worker's verification hash; close once enough distinct workers agree."""
    with transaction.atomic():
        cur.execute(vendor_sql(HELD_TASK), params)
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
            return _close(cur, params, single=False)
        cur.execute(UNASSIGN_SQL, params)
        return False


def tasks_reclaim_timed_out(*, now: int | None = None) -> int:
    """Unassign NEW tasks held past their max_assign_time (retries unchanged)."""
    now = int(time.time()) if now is None else now
    with connection.cursor() as cur:
        cur.execute(vendor_sql(RECLAIM), [now])
        return cur.rowcount


def tasks_retry_failed(*, task_ids: list[int]) -> int:
    """FAILED → NEW with retries 0 for the given tasks (the operator console's per-task retry;
    `project_reset_failed` does the same for a whole project)."""
    return Task.objects.filter(pk__in=task_ids, status=FAILED).update(status=NEW, retries=0)


def project_reset_failed(*, project_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE tracker_task SET status = %s, retries = 0"
            " WHERE project_id = %s AND status = %s",
            [NEW, project_id, FAILED],
        )
        return cur.rowcount


def project_reclaim_assigned(*, project_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE tracker_task SET assignee_id = NULL, assign_time = NULL"
            " WHERE project_id = %s AND status = %s AND assignee_id IS NOT NULL",
            [project_id, NEW],
        )
        return cur.rowcount


def project_hard_reset(*, project_id: int) -> int:
    # Deleting without closing: nothing is counted and nothing chains.
    with connection.cursor() as cur:
        cur.execute("DELETE FROM tracker_task WHERE project_id = %s", [project_id])
        return cur.rowcount
