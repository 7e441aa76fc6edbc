"""The push webhook: a signed push to master sets the matching project's version."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from domain.tracker.errors import TrackerError
from domain.tracker.models import Project

# Header (Django META spelling) → digest, as the original's config offers.
SIGNATURE_HEADERS = (
    ("HTTP_X_HUB_SIGNATURE", hashlib.sha1),
    ("HTTP_X_GOGS_SIGNATURE", hashlib.sha256),
)
SIGNATURE_MISMATCH = "Signature does not match"


def push_receive(
    *, body: bytes, ref: str, full_name: str, after: str, signature: str, digest: Callable
) -> None:
    """Set `version` of the project pushed to; raises TrackerError 400 or 403.

    The strings come decoded and cleaned by the API (no NUL, no lone surrogate). The original
    finds the project before it checks the signature: the HMAC key is that project's secret.
    """
    if not ref.endswith("master"):
        raise TrackerError(400, "Invalid request")
    project = Project.objects.filter(git_repo__iexact=full_name).order_by("id").first()
    if project is None:
        raise TrackerError(400, "Invalid request")
    expected = hmac.new(project.webhook_secret.encode(), body, digest).hexdigest()
    given = signature.rsplit("=", 1)[-1].strip().lower()
    if not hmac.compare_digest(expected.encode(), given.encode("ascii", "replace")):
        raise TrackerError(403, SIGNATURE_MISMATCH)
    Project.objects.filter(pk=project.pk).update(version=after)
