"""Body checks the views share: unknown fields, and nulls where a field takes none."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from domain.common.errors import InvalidInput


def given_fields(payload: BaseModel, *, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the caller sent, refusing any the body does not take (the original's message
    names the valid ones) and a null for any field not in `nullable`."""
    unknown = sorted(payload.model_extra or {})
    if unknown:
        valid = ", ".join(sorted(type(payload).model_fields))
        raise InvalidInput(f"{unknown[0]} is not a valid field. Valid fields are: {valid}")
    fields = type(payload).model_fields
    given = {name: getattr(payload, name) for name in payload.model_fields_set if name in fields}
    nulls = sorted(name for name, value in given.items() if value is None and name not in nullable)
    if nulls:
        raise InvalidInput(f"{nulls[0]} may not be null")
    return given
