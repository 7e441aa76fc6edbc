"""The tracker's tables as the queue's SQL names them: one column list per table, and the statements
both database vendors speak that the dialect modules build on.

Every list of task columns (what /task/get returns, what an insert or a COPY writes, what a close
hands to the chained project) is derived from TASK_COLUMNS, so a new column is added once.
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    name: str
    # The key /task/get answers it under, or None when a worker never sees it.
    wire: str | None
    # Its type when a new task is written (insert, COPY, chained copy), or None when it is not.
    new: str | None
    nullable: bool = False


# In /task/get's key order and COPY's column order at once.
TASK_COLUMNS = (
    Column("id", "id", None),
    Column("project_id", None, "bigint"),
    Column("priority", "priority", "smallint"),
    Column("assignee_id", "assignee", None),
    Column("retries", "retries", "smallint"),
    Column("max_retries", "max_retries", "smallint"),
    Column("status", "status", "smallint"),
    Column("recipe", "recipe", "text"),
    Column("max_assign_time", "max_assign_time", "bigint"),
    Column("assign_time", "assign_time", None),
    Column("verification_count", "verification_count", "smallint"),
    Column("hash64", None, "bigint", nullable=True),
)

# What /task/get returns of a task: its keys and the columns an assignment RETURNs.
TASK_KEYS = tuple(c.wire for c in TASK_COLUMNS if c.wire)
TASK_RETURNING = ", ".join(c.name for c in TASK_COLUMNS if c.wire)

# What a new task is written with, in this order (SubmitRequest.new_task_values builds the values).
NEW_TASK = tuple(c for c in TASK_COLUMNS if c.new)
NEW_TASK_NAMES = tuple(c.name for c in NEW_TASK)
NEW_TASK_COLUMNS = ", ".join(NEW_TASK_NAMES)
NEW_TASK_TYPES = ", ".join(f"{c.name} {c.new}" for c in NEW_TASK)
INSERT_TASK_SQL = (
    f"INSERT INTO tracker_task ({NEW_TASK_COLUMNS})"  # noqa: S608
    f" VALUES ({', '.join(['%s'] * len(NEW_TASK_NAMES))}) ON CONFLICT DO NOTHING"
)

# A closed task's copy in the chained project: the same task, new again, in the other project.
_CHAINED = {"project_id": "p.chain_id", "retries": "0", "status": "1"}
CHAINED_VALUES = ", ".join(_CHAINED.get(name, f"c.{name}") for name in NEW_TASK_NAMES)
# What a close returns: who held the task (its tally) and everything its chained copy needs.
CLOSE_RETURNING = f"assignee_id, {NEW_TASK_COLUMNS}"

# {lock} is `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers and needs none.
ASSIGN_TEMPLATE = f"""
UPDATE tracker_task SET assignee_id = %(worker)s, assign_time = %(now)s
WHERE id = (
    SELECT t.id FROM tracker_task t
    WHERE t.project_id = %(project)s AND t.status = 1 AND t.assignee_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM tracker_workerverifiestask v
                      WHERE v.task_id = t.id AND v.worker_id = %(worker)s)
    ORDER BY t.priority DESC, t.id ASC
    LIMIT 1
    {{lock}}
)
RETURNING {TASK_RETURNING}
"""  # noqa: S608

# A worker's failure. {least} is the scalar minimum: LEAST on PostgreSQL, MIN on SQLite.
FAIL_TEMPLATE = """
UPDATE tracker_task
SET retries = {least}(retries + 1, 32767), assignee_id = NULL,
    status = CASE WHEN retries + 1 >= max_retries THEN 2 ELSE 1 END
WHERE id = %(task)s AND assignee_id = %(worker)s
"""

HELD_TASK_SELECT = (
    "SELECT verification_count FROM tracker_task WHERE id = %(task)s AND assignee_id = %(worker)s"
)

# {held_until} is assign_time + max_assign_time in a type the sum cannot overflow.
RECLAIM_TEMPLATE = (
    "UPDATE tracker_task SET assignee_id = NULL, assign_time = NULL"
    " WHERE status = 1 AND assignee_id IS NOT NULL AND {held_until} < %s"
)

# A task with verification_count <= 1 closes on its first success; others wait for agreement.
CLOSE_TEMPLATE = f"""
DELETE FROM tracker_task
WHERE id = %(task)s AND assignee_id = %(worker)s {{extra}}
RETURNING {CLOSE_RETURNING}
"""  # noqa: S608
CLOSE_SINGLE = "AND verification_count <= 1"

# A project's wire object, key by key ("chain" is 0 when there is none).
PROJECT_COLUMNS = {
    "id": "p.id",
    "priority": "p.priority",
    "name": "p.name",
    "clone_url": "p.clone_url",
    "git_repo": "p.git_repo",
    "version": "p.version",
    "motd": "p.motd",
    "public": "p.public",
    "hidden": "p.hidden",
    "chain": "COALESCE(p.chain_id, 0)",
    "paused": "p.paused",
    "assign_rate": "p.assign_rate",
    "submit_rate": "p.submit_rate",
}
PROJECT_KEYS = tuple(PROJECT_COLUMNS)
PROJECT_SELECT = ", ".join(PROJECT_COLUMNS.values())

# Everything /task/get needs before assigning, in one query: the worker's pause flag, the
# project's wire object and whether the worker holds an approved assign role.
CONTEXT_SQL = f"""
SELECT w.paused, {PROJECT_SELECT},
       EXISTS (SELECT 1 FROM tracker_workeraccess a
               WHERE a.project_id = p.id AND a.worker_id = w.id
                 AND a.role_assign AND NOT a.request)
FROM tracker_worker w LEFT JOIN tracker_project p ON p.id = %(project)s
WHERE w.id = %(worker)s
"""  # noqa: S608
