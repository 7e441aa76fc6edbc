"""Who may call the Scale family (specs/scale-and-flotilla.md A.1).

Writes need an API token (or OIDC JWT) with role admin or dev: no token 401, another role 403.
Reads and every `/validation` operation take any valid token; with `SCALE_PUBLIC_READ_API=true`
(the original's PUBLIC_READ_API) they take no token at all.
"""

from __future__ import annotations

from django.http import HttpRequest

from api.common.auth import TokenAuth
from domain.common.models import Role
from domain.common.tokens import Caller
from domain.jobs import conf


class Anonymous:
    """The caller of a public read: no role, no groups."""

    name = ""
    role = ""
    study_groups: list[str] = []
    subject = ""


ANONYMOUS = Anonymous()


class ScaleReadAuth(TokenAuth):
    """Any valid bearer token; none needed when the family's reads are public."""

    def __call__(self, request: HttpRequest) -> Caller | Anonymous | None:
        if conf.public_read_api():
            # A public read ignores credentials, as the original's AllowAny did.
            return ANONYMOUS
        return super().__call__(request)


read_auth = ScaleReadAuth()
write_auth = TokenAuth(roles=(Role.ADMIN, Role.DEV))
