"""Who may call the Flotilla family.

The original had no authentication; its commands run on our hosts here, so:

- writes (definitions, execute, stop, status reports, clusters) need an API token (or OIDC
  JWT) with role `admin` or `dev`: no credential or an unknown one is 401, another role 403;
- reads are open, unless RUNS_PRIVATE_READS=true, when any valid token may read;
- with RUNS_TRUSTED_USER_HEADER set, a request carrying that header (set by an authenticating
  proxy in front of us, which must overwrite whatever a client sent) is a `dev` caller named by
  the header's value, for reads and writes.

The caller's name is recorded on each run it executes (`token_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest
from ninja.errors import AuthenticationError

from api.common.auth import TokenAuth
from domain.common.models import Role
from domain.common.tokens import Caller, bearer_authenticate
from domain.runs import conf


@dataclass(frozen=True)
class ProxyUser:
    """A caller the authenticating proxy named in RUNS_TRUSTED_USER_HEADER."""

    name: str
    role: str = Role.DEV
    study_groups: list[str] = field(default_factory=list)
    subject: str = ""


def proxy_user(request: HttpRequest) -> ProxyUser | None:
    header = conf.trusted_user_header()
    if not header:
        return None
    value = request.headers.get(header, "").strip()
    return ProxyUser(name=value[:255]) if value else None


class RunsWriterAuth(TokenAuth):
    """An admin or dev API token (or JWT), or the trusted proxy's user."""

    def __call__(self, request: HttpRequest) -> Caller | ProxyUser | None:
        return proxy_user(request) or super().__call__(request)


runs_writer = RunsWriterAuth(roles=(Role.ADMIN, Role.DEV))


def authorize_read(request: HttpRequest) -> None:
    """With RUNS_PRIVATE_READS, a read needs a valid token (any role) or the proxy's user."""
    if not conf.private_reads() or proxy_user(request) is not None:
        return
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or bearer_authenticate(credential=credential) is None:
        raise AuthenticationError()


def caller_name(request: HttpRequest) -> str:
    return getattr(request.auth, "name", "") or ""
