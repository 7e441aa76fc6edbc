"""Models of this aggregate family."""

from __future__ import annotations
