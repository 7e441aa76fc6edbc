from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from domain.common.secretfile import private_file_write
from domain.common.tokens import admin_token_exists, token_create

# In the data directory, beside the generated secret key.
ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 (a file name, not a secret)


class Command(BaseCommand):
    help = (
        "Create the first admin token if no live admin token exists. The token is written to a "
        "file only its owner can read in the data directory and only that file's path is "
        "printed, so it never reaches a container log; --print prints the token instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--print",
            action="store_true",
            dest="print_token",
            help="print the token itself (for an interactive terminal, never for a log)",
        )

    def handle(self, *args, **options) -> None:
        if admin_token_exists():
            return
        # One transaction: if the file cannot be written, no admin token exists that nobody has
        # seen, and the next run tries again.
        with transaction.atomic():
            issued = token_create(role="admin", name="first admin (bootstrap_admin)")
            if options["print_token"]:
                self.stdout.write(_printed(issued.plaintext))
                return
            path = Path(settings.DATA_DIR) / ADMIN_TOKEN_FILE
            private_file_write(path, issued.plaintext + "\n", replace=True)
        self.stdout.write(
            f"\nAn admin API token was created and written to {path} (readable only by its "
            "owner). Read it, keep it safe, and delete the file.\n"
            "More tokens: python manage.py create_token --help\n"
        )


def _printed(plaintext: str) -> str:
    return (
        "\nAn admin API token was created. It is shown only now; keep it safe:"
        "\n\n"
        f"    {plaintext}\n\n"
        "Use it as `Authorization: Bearer <token>`.\n"
        "More tokens: python manage.py create_token --help\n"
    )
