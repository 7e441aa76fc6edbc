"""Canvases, one module per family: each registers the handlers of its family's domain steps."""

from __future__ import annotations

import importlib

# Explicit, so a reader sees every family whose steps are handled here.
FAMILIES = ("releases", "executions", "jobs", "selfcheck")


def install() -> None:
    """Register every family's step handlers (orchestrator.apps runs this at start)."""
    for family in FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
