"""The family's own refusals (DRF's texts) and the checks views share before calling the domain."""

from __future__ import annotations

from domain.common.errors import DomainError
from domain.releases.errors import FieldErrors

SELECT_VALID = "Select a valid choice. That choice is not one of the available choices."


class MethodNotAllowed(DomainError):
    status_code = 405

    def __init__(self, method: str) -> None:
        super().__init__(f'Method "{method}" not allowed.')


def not_null(payload: dict, *fields: str) -> None:
    nulls = {
        f: ["This field may not be null."] for f in fields if f in payload and payload[f] is None
    }
    if nulls:
        raise FieldErrors(nulls)
