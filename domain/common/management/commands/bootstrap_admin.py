from __future__ import annotations

from django.core.management.base import BaseCommand

from domain.common.tokens import admin_token_exists, token_create


class Command(BaseCommand):
    help = "Create the first admin token if none exists, and print it once."

    def handle(self, *args, **options) -> None:
        if admin_token_exists():
            return
        issued = token_create(role="admin", name="first admin (make run)")
        self.stdout.write(
            "\nAn admin API token was created. It is shown only now; keep it safe:"
            "\n\n"
            f"    {issued.plaintext}\n\n"
            "Use it as `Authorization: Bearer <token>`.\n"
            "More tokens: python manage.py create_token --help\n"
        )
