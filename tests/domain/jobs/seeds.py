"""The Seed specification's example manifests (tests/domain/jobs/seed_examples/, copied byte for
byte from ngageoint/seed 1.0.0) and small builders for variations of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent / "seed_examples"
EXAMPLE_NAMES = ("complete", "random-number", "watermark")


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def complete(**job: Any) -> dict[str, Any]:
    """The `complete` example (name my-job, 1.0.0), with `job` keys replaced."""
    manifest = example("complete")
    manifest["job"].update(copy.deepcopy(job))
    return manifest


def minimal(name: str = "random-number-gen", version: str = "0.1.0", **job: Any) -> dict:
    """The `random-number` example (no interface), named and versioned as asked."""
    manifest = example("random-number")
    manifest["job"].update({"name": name, "jobVersion": version, **copy.deepcopy(job)})
    return manifest
