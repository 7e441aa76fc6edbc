"""Which version of a job type is the latest (A.2 `version_array`).

A version is read as SemVer: [major, minor, patch, prerelease], where the prerelease is the
number its digits spell (`rc.2` → 2), or the code of its first character when it has none, and
null for a release. A version that is no SemVer is [0, 0, 0, 0]. A release sorts after its own
prereleases (1.0.0 is later than 1.0.0-rc.1), as SemVer says.
"""

from __future__ import annotations

import re
from typing import Any

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def version_array(version: str) -> list[int | None]:
    match = _SEMVER.fullmatch(version)
    if match is None:
        return [0, 0, 0, 0]
    major, minor, patch, prerelease = match.groups()
    return [int(major), int(minor), int(patch), _prerelease_number(prerelease)]


def _prerelease_number(prerelease: str | None) -> int | None:
    if prerelease is None:
        return None
    digits = re.sub(r"[^0-9]", "", prerelease)
    return int(digits) if digits else ord(prerelease[0])


def version_order_key(array: list[Any]) -> tuple[int, int, int, int, int]:
    """Sort key of a `version_array`: later versions sort higher."""
    major, minor, patch, prerelease = (list(array) + [0, 0, 0, 0])[:4]
    is_release = prerelease is None
    return (major, minor, patch, int(is_release), prerelease or 0)
