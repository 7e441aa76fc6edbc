"""Hyperlinks of the releases family: absolute URLs out (honouring REGATTA_PUBLIC_URL), and a
related object in, given as its URL or its bare kf_id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from api.common.links import base_url
from domain.common.ids import is_kf_id
from domain.releases.errors import FieldErrors


def link(request: HttpRequest, collection: str, kf_id: str | None) -> str | None:
    return f"{base_url(request)}/{collection}/{kf_id}" if kf_id else None


def ref(value: Any, field: str, prefix: str, *, required: bool = False) -> str | None:
    """A related object given as its URL (as the original's hyperlinked serializers want) or as
    its bare kf_id. Returns the kf_id; the caller checks that it exists."""
    if value is None or value == "":
        if required:
            raise FieldErrors({field: ["This field is required."]})
        return None
    if not isinstance(value, str):
        raise FieldErrors({field: ["Incorrect type. Expected URL string."]})
    candidate = value.rstrip("/").rsplit("/", 1)[-1]
    if not is_kf_id(candidate, prefix):
        raise FieldErrors({field: ["Invalid hyperlink - No URL match."]})
    return candidate


def iso(value: datetime | None) -> str | None:
    """A timestamp as the original renders it: UTC, `Z`, microseconds kept."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
