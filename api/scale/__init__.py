"""The Scale v6 wire family: /v6/job-types, /v6/job-type-names, /v6/jobs.

Errors: `{"detail": …}`."""

from __future__ import annotations

from ninja import Schema

from api.common.families import Family, build_family_api, first_message
from api.common.tokens import token_router

FAMILY = Family(
    name="scale",
    title="Regatta — Scale v6 job types API",
    version="6",
    description="Job types described by Seed manifests, their versions, revisions and jobs.",
    error_body=lambda message, status: {"detail": message},
    validation_body=lambda errors: {"detail": first_message(errors)},
)


class ErrorOut(Schema):
    detail: str


api = build_family_api(FAMILY)
api.add_router("/_/scale", token_router(FAMILY.name, ErrorOut))
