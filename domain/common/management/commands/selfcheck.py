from __future__ import annotations

import secrets
import time

from django.core.management.base import BaseCommand, CommandError

from domain.common.models import SelfCheck
from domain.common.selfcheck import selfcheck_start


class Command(BaseCommand):
    help = "Run a chord and a chain through the live workers and wait for their database rows."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options) -> None:
        expected = selfcheck_start(
            chord_nonce=secrets.token_hex(8), chain_nonce=secrets.token_hex(8)
        )
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            rows = dict(SelfCheck.objects.filter(nonce__in=expected).values_list("nonce", "total"))
            if rows == expected:
                self.stdout.write("selfcheck ok: chord and chain reached the database")
                return
            time.sleep(0.2)
        raise CommandError("selfcheck timed out: are workers running on every queue?")
