"""Tracker-specific refusals. The tracker API renders every `TrackerError` as its envelope."""

from __future__ import annotations

from domain.common.errors import DomainError


class TrackerError(DomainError):
    """A refusal with an explicit status code (the tracker's codes vary per endpoint)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, delay: float) -> None:
        super().__init__("Too many requests")
        self.delay = delay


class SubmitUnauthorized(TrackerError):
    """The worker has no approved submit role on the project."""

    def __init__(self) -> None:
        super().__init__(400, "unauthorized task submit")
