"""Domain errors. Each API family maps them to its own wire format."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request the domain refuses, with a message safe to show the caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class InvalidInput(DomainError):
    status_code = 400


class Conflict(DomainError):
    status_code = 409


class IllegalTransition(DomainError):
    status_code = 400

    def __init__(self, aggregate: str, source: str, target: str) -> None:
        super().__init__(f"{aggregate} may not change from {source} to {target}")
        self.aggregate = aggregate
        self.source = source
        self.target = target


class Unauthenticated(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403
