"""Field-level validation errors, rendered DRF-style as `{field: [messages]}`."""

from __future__ import annotations

from domain.common.errors import InvalidInput


class FieldErrors(InvalidInput):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def field_error(field: str, message: str) -> FieldErrors:
    return FieldErrors({field: [message]})
