"""Studies: the release's study list, and the mirror of the dataservice's studies."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from domain.releases.errors import FieldErrors, field_error
from domain.releases.models import Study

logger = logging.getLogger(__name__)


def studies_resolve(*, study_ids: Iterable[str] | None) -> list[Study]:
    """The release's studies, or FieldErrors naming the missing ones (a 400, checked before the
    caller's group permission so a bad body is reported as such, not as a 403)."""
    ids = list(dict.fromkeys(study_ids or []))
    if not ids:
        raise field_error("studies", "Must have at least one study")
    found = {s.kf_id: s for s in Study.objects.filter(kf_id__in=ids)}
    missing = [sid for sid in ids if sid not in found]
    if missing:
        raise FieldErrors(
            {"studies": [f'Invalid pk "{sid}" - object does not exist.' for sid in missing]}
        )
    return [found[sid] for sid in ids]


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
STUDY_ID_MAX = Study._meta.get_field("kf_id").max_length
STUDY_NAME_MAX = Study._meta.get_field("name").max_length


def _as_bool(value: Any) -> bool | None:
    """A dataservice flag: a JSON bool, 0/1, or a word such as "false" (never truthiness, which
    would make the string "false" true). None when it is none of those."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower())
    return None


def _study_row(row: Any) -> tuple[str, dict[str, Any], datetime | None] | None:
    """(kf_id, fields to set, created_at) of one upstream row, or None to skip it. Upstream data
    is not ours to trust: a row whose id cannot be stored is skipped; a field that is unusable
    is left out (the stored or default value stays) rather than failing the whole sync."""
    if not isinstance(row, dict):
        return None
    kf_id = row.get("kf_id")
    if not isinstance(kf_id, str) or not 0 < len(kf_id) <= STUDY_ID_MAX or "\x00" in kf_id:
        return None
    fields: dict[str, Any] = {}
    name = row.get("name")
    if isinstance(name, str):
        fields["name"] = name.replace("\x00", "")[:STUDY_NAME_MAX]
    elif name is None:
        fields["name"] = ""
    visible = _as_bool(row.get("visible", True))
    if visible is not None:
        fields["visible"] = visible
    created = row.get("created_at")
    created_at = None
    if isinstance(created, str) and "\x00" not in created:
        try:
            created_at = parse_datetime(created)
        except (ValueError, OverflowError):
            created_at = None
        if created_at is not None and timezone.is_naive(created_at):
            created_at = timezone.make_aware(created_at, UTC)
    return kf_id, fields, created_at


def studies_upsert(*, rows: Iterable[Any], mark_missing_deleted: bool) -> dict[str, int]:
    """Mirror studies: create unknown ones, update name/visible, flag missing ones deleted."""
    seen: set[str] = set()
    new = 0
    with transaction.atomic():
        for raw in rows:
            parsed = _study_row(raw)
            if parsed is None:
                logger.warning("study sync skipped a row without a usable kf_id: %.200r", raw)
                continue
            kf_id, fields, created_at = parsed
            seen.add(kf_id)
            _, created = Study.objects.update_or_create(
                kf_id=kf_id,
                defaults=fields,
                create_defaults={**fields, "created_at": created_at or timezone.now()},
            )
            new += int(created)
        deleted = 0
        if mark_missing_deleted:
            deleted = (
                Study.objects.exclude(kf_id__in=seen).filter(deleted=False).update(deleted=True)
            )
    return {"new": new, "deleted": deleted}
