from __future__ import annotations

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from domain.common.errors import DomainError
from domain.common.models import Role
from domain.common.tokens import token_create

_DURATION = re.compile(r"(\d{1,9})([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_expires_in(value: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s` or plain seconds, as a positive duration."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise CommandError(f"--expires-in takes a positive duration such as 90d or 12h: {value!r}")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class Command(BaseCommand):
    help = "Create an API token and print it. The token is shown only this once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--study-group",
            action="append",
            default=[],
            dest="study_groups",
            help="a study kf_id this token's holder may release (repeatable)",
        )
        parser.add_argument("--subject", default="", help="what a service token is bound to")
        parser.add_argument(
            "--expires-in",
            default=None,
            help="the token stops working after this long: 90d, 12h, 30m, 45s (default: never)",
        )

    def handle(self, *args, **options) -> None:
        expires_in = options["expires_in"]
        expires_at = None if expires_in is None else timezone.now() + parse_expires_in(expires_in)
        try:
            issued = token_create(
                role=options["role"],
                name=options["name"],
                study_groups=options["study_groups"],
                subject=options["subject"],
                expires_at=expires_at,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.plaintext)
