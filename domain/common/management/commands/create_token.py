from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from domain.common.errors import DomainError
from domain.common.models import Role
from domain.common.tokens import token_create


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

    def handle(self, *args, **options) -> None:
        try:
            issued = token_create(
                role=options["role"],
                name=options["name"],
                study_groups=options["study_groups"],
                subject=options["subject"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.plaintext)
