"""The push webhook: a signed push to master sets the matching project's version."""

from __future__ import annotations

import hashlib
import hmac

from domain.tracker.errors import TrackerError
from domain.tracker.models import Project

# Header (lower-case Django META spelling) → digest, as the original's config offers.
SIGNATURE_HEADERS = (
    ("HTTP_X_HUB_SIGNATURE", hashlib.sha1),
    ("HTTP_X_GOGS_SIGNATURE", hashlib.sha256),
)


def receive_push(*, body: bytes, payload: dict, signature_header: str, digest) -> None:
    ref = payload.get("ref")
    repo = payload.get("repository")
    after = payload.get("after")
    if not isinstance(ref, str) or not ref.endswith("master"):
        raise TrackerError(400, "Invalid request")
    if not isinstance(repo, dict) or not isinstance(repo.get("full_name"), str):
        raise TrackerError(400, "Invalid request")
    if not isinstance(after, str):
        raise TrackerError(400, "Invalid request")
    project = Project.objects.filter(git_repo__iexact=repo["full_name"]).order_by("id").first()
    if project is None:
        raise TrackerError(400, "Invalid request")
    expected = hmac.new(project.webhook_secret.encode(), body, digest).hexdigest()
    given = signature_header.rsplit("=", 1)[-1].strip().lower()
    if not hmac.compare_digest(expected.encode(), given.encode("ascii", "replace")):
        raise TrackerError(403, "Signature does not match")
    Project.objects.filter(pk=project.pk).update(version=after)
