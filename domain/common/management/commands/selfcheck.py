from __future__ import annotations

import secrets
import time

from django.core.management.base import BaseCommand, CommandError

from domain.common.models import SelfCheck


class Command(BaseCommand):
    help = "Run a chord and a chain through the live workers and wait for their database rows."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options) -> None:
        from orchestrator.lifecycles.selfcheck import start_selfcheck_chain, start_selfcheck_chord

        chord_nonce, chain_nonce = secrets.token_hex(8), secrets.token_hex(8)
        start_selfcheck_chord(nonce=chord_nonce, values=[1, 2, 3, 4])
        start_selfcheck_chain(nonce=chain_nonce, start=1, addends=[2, 3])
        deadline = time.monotonic() + options["timeout"]
        expected = {chord_nonce: 10, chain_nonce: 6}
        while time.monotonic() < deadline:
            rows = dict(SelfCheck.objects.filter(nonce__in=expected).values_list("nonce", "total"))
            if rows == expected:
                self.stdout.write("selfcheck ok: chord and chain reached the database")
                return
            time.sleep(0.2)
        raise CommandError("selfcheck timed out: are workers running on every queue?")
