"""Semantic versions of releases (spec §6): every release starts as the next patch candidate and
is promoted to the next minor (or major) when it is published."""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def parse(version: str) -> tuple[int, int, int]:
    match = _SEMVER.match(version or "")
    if not match:
        return (0, 0, 0)
    return int(match[1]), int(match[2]), int(match[3])


def next_patch(version: str) -> str:
    major, minor, patch = parse(version)
    return f"{major}.{minor}.{patch + 1}"


def next_minor(version: str) -> str:
    major, minor, _ = parse(version)
    return f"{major}.{minor + 1}.0"


def next_major(version: str) -> str:
    major, _, _ = parse(version)
    return f"{major + 1}.0.0"


def published_version(version: str, *, is_major: bool) -> str:
    return next_major(version) if is_major else next_minor(version)
