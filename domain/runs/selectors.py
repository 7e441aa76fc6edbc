"""Reads of the Flotilla family: definitions and runs with the original's filters and sorts,
groups, tags, clusters, and a run's logs and events.

A list filter is any query key naming a column (spec B.3, B.7): one value of a text column is
a substring match, one value of another column an exact match, a repeated key any of its
values. Every value is a bound parameter (the original wrote them into its SQL), and a key or
value that makes no sense is a 400, not the original's 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from domain.common.errors import InvalidInput, NotFound
from domain.executions import selectors as executions
from domain.runs.envs import env_holds
from domain.runs.models import ClusterMetadata, Definition, Run, RunStatus, Tag

TEXT, EXACT, INT, TIME, STATUS = "text", "exact", "int", "time", "status"
INT64 = 2**63


@dataclass(frozen=True)
class Column:
    field: str
    kind: str


DEFINITION_FILTERS = {
    "definition_id": Column("definition_id", EXACT),
    "alias": Column("alias", TEXT),
    "image": Column("image", TEXT),
    "group_name": Column("group_name", TEXT),
    "command": Column("command", TEXT),
    "task_type": Column("task_type", EXACT),
    "target_cluster": Column("target_cluster", EXACT),
    "memory": Column("memory", INT),
    "cpu": Column("cpu", INT),
    "gpu": Column("gpu", INT),
    "ephemeral_storage": Column("ephemeral_storage", INT),
    "tag": Column("tags__text", EXACT),
}
DEFINITION_SORTS = {
    "alias": "alias",
    "image": "image",
    "group_name": "group_name",
    "memory": "memory",
}

RUN_FILTERS = {
    "run_id": Column("run_id", EXACT),
    "definition_id": Column("definition_id", EXACT),
    "executable_id": Column("definition_id", EXACT),
    "alias": Column("alias", TEXT),
    "image": Column("image", TEXT),
    "group_name": Column("group_name", TEXT),
    "command": Column("command", TEXT),
    "exit_reason": Column("exit_reason", TEXT),
    "status": Column("status", STATUS),
    "cluster": Column("cluster", EXACT),
    "cluster_name": Column("cluster", EXACT),
    "user": Column("user", EXACT),
    "engine": Column("engine", EXACT),
    "node_lifecycle": Column("node_lifecycle", EXACT),
    "tier": Column("tier", EXACT),
    "idempotence_key": Column("idempotence_key", EXACT),
    "command_hash": Column("command_hash", EXACT),
    "exit_code": Column("exit_code", INT),
    "memory": Column("memory", INT),
    "cpu": Column("cpu", INT),
    "gpu": Column("gpu", INT),
    **{
        f"{col}_{edge}": Column(col, TIME)
        for col in ("queued_at", "started_at", "finished_at")
        for edge in ("since", "until")
    },
}
RUN_SORTS = {
    "run_id": "run_id",
    "cluster_name": "cluster",
    "cluster": "cluster",
    "status": "status",
    "queued_at": "queued_at",
    "started_at": "started_at",
    "finished_at": "finished_at",
    "group_name": "group_name",
}


# --- definitions ---------------------------------------------------------------------------------


def definition_get(*, definition_id: str) -> Definition:
    found = Definition.objects.filter(pk=definition_id).prefetch_related("tags").first()
    if found is None:
        raise NotFound(f"Definition with ID {definition_id} not found")
    return found


def definition_get_by_alias(*, alias: str) -> Definition:
    found = Definition.objects.filter(alias=alias).prefetch_related("tags").first()
    if found is None:
        raise NotFound(f"Definition with alias {alias} not found")
    return found


def definitions_list(
    *, filters: dict[str, list[str]], env: dict[str, str], sort_by: str, order: str
) -> QuerySet[Definition]:
    rows = Definition.objects.prefetch_related("tags")
    rows = _filtered(rows, DEFINITION_FILTERS, filters).filter(*env_holds(env))
    if "tag" in filters:
        rows = rows.distinct()
    return _sorted(rows, DEFINITION_SORTS, sort_by, order)


def groups_list(*, name: str = "") -> QuerySet:
    rows = Definition.objects.filter(group_name__contains=name) if name else Definition.objects
    return rows.order_by("group_name").values_list("group_name", flat=True).distinct()


def tags_list(*, name: str = "") -> QuerySet:
    """Tags some definition carries (a tag no definition uses any more is not listed)."""
    rows = Tag.objects.filter(definitions__isnull=False)
    if name:
        rows = rows.filter(text__contains=name)
    return rows.order_by("text").values_list("text", flat=True).distinct()


# --- runs ----------------------------------------------------------------------------------------


def run_get(*, run_id: str, definition_id: str | None = None) -> Run:
    rows = Run.objects.filter(pk=run_id)
    if definition_id is not None:
        rows = rows.filter(definition_id=definition_id)
    found = rows.first()
    if found is None:
        raise NotFound(f"Run with id {run_id} not found")
    return found


def runs_list(
    *, filters: dict[str, list[str]], env: dict[str, str], sort_by: str, order: str
) -> QuerySet[Run]:
    for definition_id in filters.get("definition_id", []):
        if not Definition.objects.filter(pk=definition_id).exists():
            raise NotFound(f"Definition with ID {definition_id} not found")
    rows = _filtered(Run.objects.all(), RUN_FILTERS, filters).filter(*env_holds(env))
    return _sorted(rows, RUN_SORTS, sort_by, order)


def run_log_page(*, run: Run, after_line: int, max_lines: int = 256) -> tuple[str, int]:
    """Up to `max_lines` lines of the current attempt's log after line `after_line`, and the
    line to ask from next time (unchanged at the end of the log)."""
    if not run.execution_id:
        return "", after_line
    return executions.execution_log_page(
        execution_id=run.execution_id, after_line=after_line, max_lines=max_lines
    )


def run_log_iter(*, run: Run) -> Iterator[str]:
    if not run.execution_id:
        return iter(())
    return executions.execution_log_iter(execution_id=run.execution_id)


def run_events(*, run: Run) -> list[dict]:
    """The current attempt's events as the original's pod events."""
    if not run.execution_id:
        return []
    return [
        {
            "timestamp": event.at,
            "event_type": "Warning" if event.kind == "engine" and event.reason else "Normal",
            "reason": event.reason or _transition_reason(event),
            "source_object": run.run_id,
            "message": event.message,
        }
        for event in executions.execution_events(execution_id=run.execution_id)
    ]


def _transition_reason(event) -> str:
    if event.source or event.target:
        return f"{event.source or 'NEW'} -> {event.target}"
    return event.kind


# --- clusters ------------------------------------------------------------------------------------


def clusters_list() -> QuerySet[ClusterMetadata]:
    return ClusterMetadata.objects.order_by("name")


def cluster_get(*, cluster_id: str) -> ClusterMetadata:
    found = ClusterMetadata.objects.filter(pk=cluster_id).first()
    if found is None:
        raise NotFound(f"cluster {cluster_id} not found")
    return found


# --- filters and sorts ---------------------------------------------------------------------------


def _filtered(rows: QuerySet, columns: dict[str, Column], filters: dict[str, list[str]]):
    for key, values in filters.items():
        column = columns.get(key)
        if column is None:
            raise InvalidInput(f"unknown filter [{key}]; filters are {', '.join(sorted(columns))}")
        if values:
            rows = rows.filter(_condition(key, column, values))
    return rows


def _condition(key: str, column: Column, values: list[str]) -> Q:
    if column.kind == TIME:
        edge = "gt" if key.endswith("_since") else "lt"
        return Q(**{f"{column.field}__{edge}": _time(key, values[-1])})
    parsed = [_value(key, column, value) for value in values]
    if len(parsed) > 1:
        return Q(**{f"{column.field}__in": parsed})
    if column.kind == TEXT:
        return Q(**{f"{column.field}__contains": parsed[0]})
    return Q(**{column.field: parsed[0]})


def _value(key: str, column: Column, value: str) -> str | int:
    if column.kind == STATUS and value not in RunStatus.values:
        raise InvalidInput(f"invalid status [{value}]")
    if column.kind == INT:
        try:
            number = int(value)
        except ValueError:
            raise InvalidInput(f"{key} must be an integer, was [{value}]") from None
        if not -INT64 <= number < INT64:
            raise InvalidInput(f"{key} must be a 64-bit integer")
        return number
    return value


def _time(key: str, value: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime.combine(day, time()) if day is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise InvalidInput(f"{key} must be an ISO 8601 date or date-time, was [{value}]")
    if timezone.is_naive(moment):
        return moment.replace(tzinfo=UTC)
    # PostgreSQL refuses a zone offset past 15:59, which ISO 8601 allows: send UTC. A moment
    # that UTC cannot hold (year 1 east of Greenwich) is the earliest one there is.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def _sorted(rows: QuerySet, sorts: dict[str, str], sort_by: str, order: str) -> QuerySet:
    if order not in ("asc", "desc"):
        raise InvalidInput(f"Invalid order string, must be one of ('asc', 'desc'), was {order}")
    field = sorts.get(sort_by)
    if field is None:
        raise InvalidInput(
            f"Invalid field to order by [{sort_by}], must be one of [{', '.join(sorts)}]"
        )
    expression = F(field).asc(nulls_last=True) if order == "asc" else F(field).desc(nulls_last=True)
    return rows.order_by(expression, "pk")
