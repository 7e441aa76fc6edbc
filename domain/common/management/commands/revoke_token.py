from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from domain.common.errors import DomainError
from domain.common.models import ApiToken
from domain.common.tokens import token_list, token_revoke


class Command(BaseCommand):
    help = (
        "Revoke API tokens by id (--list shows the ids; so does GET /_/<family>/tokens). A revoked "
        "token gets 401 from its next request on."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("token_ids", nargs="*", type=int, metavar="ID")
        parser.add_argument("--list", action="store_true", help="list every token, no secrets")

    def handle(self, *args, **options) -> None:
        if options["list"]:
            for token in token_list():
                self.stdout.write(_line(token))
        elif not options["token_ids"]:
            raise CommandError("name the ids of the tokens to revoke, or --list them")
        for token_id in options["token_ids"]:
            try:
                revoked = token_revoke(token_id=token_id)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            state = "revoked" if revoked else "was already revoked"
            self.stdout.write(f"token {token_id} {state}")


def _line(token: ApiToken) -> str:
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and token.expires_at <= timezone.now():
        state = "expired"
    else:
        state = "live"
    return f"{token.pk}\t{token.token_prefix}…\t{token.role}\t{state}\t{token.name}"
