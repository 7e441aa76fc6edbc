"""What every operation of the family refuses before parsing, as a 400 `{"detail": …}`:
a NUL character anywhere (PostgreSQL can hold none: a path, a filter or a manifest with one
would otherwise be a 500), a JSON body that is no object, and JSON numbers no JSON database
holds (`NaN`, `Infinity`, `1e999`), which Python's parser would otherwise accept."""

from __future__ import annotations

import json
import math
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

from domain.common.errors import DomainError, InvalidInput

NUL_MESSAGE = "Null characters are not allowed."
NOT_OBJECT = "Invalid data. Expected a JSON object."
BODY_METHODS = ("POST", "PUT", "PATCH")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        return json.loads(request.body, parse_constant=_refuse_constant, parse_float=_finite_float)


def _has_nul(value: Any) -> bool:
    # A walk with its own stack: json.loads accepts nesting deeper than recursion allows here.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def input_problem(request: HttpRequest) -> DomainError | None:
    """The first thing refused in the request's path, query or body, or None."""
    if "\x00" in request.path or any(_has_nul([k, *v]) for k, v in request.GET.lists()):
        return InvalidInput(NUL_MESSAGE)
    if request.method not in BODY_METHODS:
        return None
    raw = request.body.lstrip()
    if raw and not raw.startswith(b"{"):
        return InvalidInput(NOT_OBJECT)
    # JSON can carry a NUL only as the escape \u0000: skip the second parse when it is absent.
    if b"\\u0000" not in raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None  # malformed or too deep: the operation's parser answers 400
    return InvalidInput(NUL_MESSAGE) if _has_nul(data) else None
