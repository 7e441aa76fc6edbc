"""The compatibility triggers' one effect is an enqueue: with the broker down they say so."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from kombu.exceptions import OperationalError

from domain.common.errors import DomainError

logger = logging.getLogger(__name__)


class QueueUnavailable(DomainError):
    status_code = 503


@contextmanager
def queue_required() -> Iterator[None]:
    """503 in the family's format, not 500, when the broker cannot take the trigger's messages.
    Nothing is lost: beat runs the same sweeps once the broker is back."""
    try:
        yield
    except OperationalError as exc:
        logger.warning("a releases trigger could not enqueue: %s", exc)
        raise QueueUnavailable("The task queue is unavailable; try again later.") from exc
