"""Environment readers for every settings module: Django settings, celeryconfig, the supervisor
and the families' domain `conf` modules.

They live in domain/ because domain never imports orchestrator/, and nothing here imports Django:
celeryconfig.py and deploy/run.py read settings before Django is set up.
"""

from __future__ import annotations

import os


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}
