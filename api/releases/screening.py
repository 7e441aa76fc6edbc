"""What every operation of the family refuses before parsing: a NUL character in any input
(PostgreSQL cannot hold one), and a JSON body that is not an object."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest

from domain.common.errors import DomainError, InvalidInput
from domain.releases.errors import FieldErrors

NUL_MESSAGE = "Null characters are not allowed."


def _has_nul(value: Any) -> bool:
    # A walk with its own stack, not recursion: json.loads accepts nesting deeper than the
    # interpreter's recursion limit leaves room for below this frame.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _nul_fields(items: Iterable[tuple[str, Any]]) -> FieldErrors | None:
    bad = [k for k, v in items if _has_nul(k) or _has_nul(v)]
    if not bad:
        return None
    return FieldErrors({k.replace("\x00", "") or "non_field_errors": [NUL_MESSAGE] for k in bad})


def _body_nul(request: HttpRequest, fields: frozenset[str] | None) -> DomainError | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    try:
        raw = request.body
    except Exception:  # noqa: BLE001 (too big or unreadable: the operation answers that itself)
        return None
    if b"\x00" in raw:
        return InvalidInput(NUL_MESSAGE)
    # JSON can carry a NUL only as the escape \u0000: skip the second parse when it is absent.
    if b"\\u0000" not in raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None  # malformed or too deeply nested: the operation's parser answers 400
    if isinstance(data, dict):
        # Only the fields the operation reads: it ignores any other, as DRF did, NUL or not.
        return _nul_fields((k, v) for k, v in data.items() if fields is None or k in fields)
    return InvalidInput(NUL_MESSAGE) if _has_nul(data) else None


def null_characters(
    request: HttpRequest, *, body_fields: frozenset[str] | None = None
) -> DomainError | None:
    """A NUL anywhere in the path, the query or a JSON body (in the `body_fields` the operation
    reads, when it names them), refused as DRF's CharField does. PostgreSQL can neither store
    nor compare a string holding NUL, so without this one check every filter, path id and text
    field of the family would answer 500."""
    if "\x00" in request.path:
        return InvalidInput(NUL_MESSAGE)
    return _nul_fields(request.GET.lists()) or _body_nul(request, body_fields)


def body_not_object(request: HttpRequest) -> DomainError | None:
    """A JSON body that is an array, a string, a number… where an object is expected: DRF's
    400. ninja would read such a body as an object without fields, so a PATCH of `[[]]` was
    a 200 that changed nothing."""
    try:
        raw = request.body.lstrip()
    except Exception:  # noqa: BLE001 (too big or unreadable: the operation answers that itself)
        return None
    # An object, or nothing: the operation's parser decides. Only other JSON is parsed here.
    if not raw or raw.startswith(b"{"):
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None  # malformed: the operation's parser answers 400
    kind = type(data).__name__
    return FieldErrors(
        {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
    )
