"""The JSON schemas shipped as data in domain/jobs/schemas/, and how a document is checked
against one with the `jsonschema` library.

The schemas are draft-04 (Seed's own is). One change of meaning: a pattern ending in `$` ends
at the end of the string, as the schema's authors meant, and not before a final newline as
Python's `re` would let it (`"my-job\\n"` is no valid name).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator, ValidationError, validators
from jsonschema.exceptions import best_match

SEED_MANIFEST = "seed.manifest.schema.json"
JOB_CONFIGURATION = "job-configuration.schema.json"
WORKSPACE_CONFIGURATION = "workspace-configuration.schema.json"

# A description quotes the offending value; a huge one is cut.
DESCRIPTION_MAX = 500


@cache
def schema_load(filename: str) -> dict[str, Any]:
    text = resources.files("domain.jobs.schemas").joinpath(filename).read_text("utf-8")
    return json.loads(text)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith(r"\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Any:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


StrictDraft4Validator = validators.extend(Draft4Validator, {"pattern": _pattern})


@cache
def _validator(filename: str) -> Any:
    return StrictDraft4Validator(schema_load(filename))


@dataclass(frozen=True)
class SchemaViolation:
    """Where a document breaks its schema, and how, in one sentence."""

    location: str
    message: str
    # The schema keyword it breaks (`type`, `minimum`, …), "" when unknown.
    keyword: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def schema_violation(filename: str, document: Any) -> SchemaViolation | None:
    """The most relevant way `document` breaks the schema, or None when it conforms."""
    try:
        error = best_match(_validator(filename).iter_errors(document))
    except RecursionError:
        # A value nested deeper than the interpreter lets jsonschema describe it.
        return SchemaViolation("", "the document is nested too deeply")
    if error is None:
        return None
    return SchemaViolation(_location(error), error.message, str(error.validator or ""))


def _location(error: ValidationError) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "".join(parts).lstrip(".")
