"""Request bodies read the way the original's Go decoder (encoding/json) reads them.

- An object key matches a field name case-insensitively (the original UI sends
  `run_tags.OWNER_ID`); when a key appears twice in any spelling, the last one wins.
- Unknown keys are ignored; `null` is the same as a missing key (Go's zero value or nil).
- A wrong type is refused: no string for a number, no number for a string, no 1.0 for an
  integer (the fields are strict), and an integer out of the field's range is refused too.

Refused as well, because PostgreSQL cannot store them: a NUL character or a lone surrogate in
any string of the body. Every refusal is a 400 `{"error": …}` (the family's validation body).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from django.http import HttpRequest
from ninja.parser import Parser
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NO_NUL = r"^[^\x00]*$"
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def refuse_unstorable(value: Any) -> None:
    # A walk with its own stack: the body may nest deeper than recursion allows here.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise ValueError("strings may hold neither NUL characters nor lone surrogates")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class GoJsonParser(Parser):
    """JSON as Go reads it: NaN and Infinity, which Python's json accepts, are not JSON."""

    def parse_body(self, request: HttpRequest) -> Any:
        return json.loads(request.body, parse_constant=_not_json)


class GoBody(BaseModel):
    """A body (or a nested object of one) decoded as Go decodes it into a struct. (A plain
    pydantic model: ninja's Schema hands its validators a wrapper, not the object's dict.)"""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _go_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # not an object: the field's own type check refuses it
        refuse_unstorable(data)
        names = {name.lower(): name for name in cls.model_fields}
        decoded: dict[str, Any] = {}
        for key, value in data.items():
            name = names.get(key.lower())
            if name is None:
                continue
            if value is None:
                decoded.pop(name, None)
            else:
                decoded[name] = value
        return decoded


# Field types: strict, with the limits the document states.
def text(max_length: int = 100_000, pattern: str = NO_NUL, **extra: Any) -> Any:
    return Annotated[
        StrictStr, Field(max_length=max_length, json_schema_extra={"pattern": pattern, **extra})
    ]


Text = text()
Name = text(255)
Amount = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
Int64 = Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX)]
Flag = StrictBool
