"""`python manage.py import_studies FILE.json`: load studies for sites without a dataservice.

The file holds a JSON list of `{"kf_id": "SD_…", "name": "…", "visible": true}`. Studies are
created or updated; none is flagged deleted (the file need not list every study).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from domain.common.ids import is_kf_id
from domain.releases.studies import studies_upsert


class Command(BaseCommand):
    help = "Create or update studies from a JSON list of {kf_id, name, visible}."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            rows = json.loads(options["file"].read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        if not isinstance(rows, list):
            raise CommandError("the file must hold a JSON list of studies")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not is_kf_id(row.get("kf_id"), "SD"):
                raise CommandError(f"entry {i} has no valid kf_id (SD_ + 8 characters)")
            if not isinstance(row.get("visible", True), bool):
                raise CommandError(f"entry {i}: visible must be true or false")
        counts = studies_upsert(rows=rows, mark_missing_deleted=False)
        self.stdout.write(f"{len(rows)} studies read, {counts['new']} new")
