"""What validation finds, by the original's names: an error (the document is refused) or a
warning (it is accepted, and the caller is told)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.common.errors import InvalidInput


@dataclass(frozen=True)
class Problem:
    name: str
    description: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description}


class SpecInvalid(InvalidInput):
    """A manifest, configuration or workspace refused, with the original's error name. The API
    answers 400 `{"detail": "<what> invalid: <NAME>: <description>"}`; the validation
    endpoints answer 200 with the problem in `errors`."""

    what = "Document"

    def __init__(self, name: str, description: str) -> None:
        self.problem = Problem(name, description)
        super().__init__(f"{self.what} invalid: {name}: {description}")


class ManifestInvalid(SpecInvalid):
    what = "Seed Manifest"


class ConfigurationInvalid(SpecInvalid):
    what = "Job type configuration"


class WorkspaceInvalid(SpecInvalid):
    what = "Workspace configuration"


@dataclass
class Validation:
    """The body of every `/validation` endpoint and of an edit: `{is_valid, errors, warnings}`."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "is_valid": self.is_valid,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }
