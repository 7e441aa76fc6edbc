"""The family's refusals: DRF's texts, their shapes in the OpenAPI document, and the checks views
share before calling the domain."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import ConfigDict

from domain.common.errors import DomainError
from domain.releases.errors import FieldErrors

SELECT_VALID = "Select a valid choice. That choice is not one of the available choices."


class MethodNotAllowed(DomainError):
    """A method the resource never serves (the original's read-only routes). The answer names
    the methods it does serve in `Allow`, as RFC 9110 asks."""

    status_code = 405

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f'Method "{method}" not allowed.')
        self.allowed = allowed


def not_null(payload: dict, *fields: str) -> None:
    nulls = {
        f: ["This field may not be null."] for f in fields if f in payload and payload[f] is None
    }
    if nulls:
        raise FieldErrors(nulls)


# --- the refusals in the OpenAPI document ---------------------------------------------------------


class DetailOut(Schema):
    """`{"detail": message}`: a request refused as a whole."""

    detail: str


# `{field: [messages]}`: fields refused one by one (`non_field_errors` for the body as a whole).
FieldMessages = dict[str, list[str]]


class EmptyOut(Schema):
    """`{}`: what the original answers a DELETE of an unknown release."""

    model_config = ConfigDict(extra="forbid")


_REFUSALS: dict[int, Any] = {
    # A NUL anywhere, a bad filter or window, an invalid body, or a request the current state
    # refuses (a reference to nothing, an illegal transition): the original says 400 to all.
    400: DetailOut | FieldMessages,
    401: DetailOut,  # no Authorization header
    403: DetailOut,  # credentials refused, or a role or study group that may not do this
    404: DetailOut,
    413: DetailOut,  # a body past DATA_UPLOAD_MAX_MEMORY_SIZE
    503: DetailOut,  # a trigger whose broker is down
}


def answers(ok: dict[int, Any], *refusals: int) -> dict[int, Any]:
    """An operation's documented answers: its success, the 400 every operation can give, and
    each refusal named (403 with auth, 404 with a path id, 413 with a body…). An operation
    with auth answers 401 as well."""
    codes = (400, 401, *refusals) if 403 in refusals else (400, *refusals)
    return {**ok, **{code: _REFUSALS[code] for code in codes}}
