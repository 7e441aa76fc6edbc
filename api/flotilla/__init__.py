"""The Flotilla wire family: /api/v1/… and /api/v6/…. Errors: `{"error": …}`."""

from __future__ import annotations

from ninja import Schema

from api.common.families import Family, build_family_api, first_message
from api.common.tokens import token_router

FAMILY = Family(
    name="flotilla",
    title="Regatta — Flotilla task definitions and runs API",
    version="1",
    description="Task definitions, their runs, logs and stops.",
    error_body=lambda message, status: {"error": message},
    validation_body=lambda errors: {"error": first_message(errors)},
)

api = build_family_api(FAMILY)


class ErrorOut(Schema):
    error: str


api.add_router("/_/flotilla", token_router(FAMILY.name, ErrorOut))
