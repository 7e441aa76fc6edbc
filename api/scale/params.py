"""Query parameters of the family's lists: repeatable filters, `order`, and the time bounds
`started`/`ended`, which take an ISO-8601 date-time or an ISO-8601 duration back from now."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from ninja import Query

from domain.common.errors import InvalidInput

# Days, hours, minutes, seconds (years and months have no fixed length). Each count is bounded
# so that now minus the duration is always a date.
DURATION = r"^P(?=\d|T\d)(\d{1,5}D)?(T(?=\d)(\d{1,6}H)?(\d{1,8}M)?(\d{1,9}(\.\d{1,6})?S)?)?$"
_DURATION = re.compile(DURATION.replace("$", r"\Z"))
_TIME_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": DURATION},
    ],
    "description": "An ISO-8601 date-time (2015-01-01T00:00:00Z), or an ISO-8601 duration "
    "(PT3H0M0S) meaning that long before now.",
}


def time_param() -> Any:
    param = Query(None)
    param.json_schema_extra = {**(param.json_schema_extra or {}), **_TIME_SCHEMA}
    return param


def order_param(fields: frozenset[str]) -> Any:
    """A repeatable `order`: field names, a leading `-` reverses."""
    choices = sorted(fields) + sorted(f"-{f}" for f in fields)
    param = Query(None, description="Repeat to sort by several fields; `-name` reverses.")
    param.json_schema_extra = {
        **(param.json_schema_extra or {}),
        "anyOf": [
            {"type": "array", "items": {"type": "string", "enum": choices}},
            {"type": "null"},
        ],
    }
    return param


def order_fields(order: list[str] | None, allowed: frozenset[str]) -> list[str]:
    for field in order or ():
        if field.removeprefix("-") not in allowed:
            raise InvalidInput(f"order: {field!r} is not one of {', '.join(sorted(allowed))}")
    return list(order or ())


def parse_time(value: str | None, *, name: str) -> datetime | None:
    if value is None:
        return None
    duration = _DURATION.match(value)
    if duration:
        return timezone.now() - _timedelta(duration)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: not an ISO-8601 date-time or duration") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # A date-time at the very edge of the calendar, whose UTC falls outside it.
        return (
            datetime.min.replace(tzinfo=UTC)
            if moment.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )


def _timedelta(match: re.Match[str]) -> timedelta:
    days, _, hours, minutes, seconds, _ = match.groups()

    def count(part: str | None) -> float:
        return float(part[:-1]) if part else 0.0

    return timedelta(
        days=count(days), hours=count(hours), minutes=count(minutes), seconds=count(seconds)
    )
