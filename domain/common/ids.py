"""kf_id generation: `XX_` + 8 Crockford-base32 characters (specs/release-coordinator.md §1)."""

from __future__ import annotations

import re
import secrets

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_BODY_LENGTH = 8
KF_ID_PATTERN = re.compile(r"^[A-Z]{2}_[0-9A-HJKMNP-TV-Z]{8}$")


def encode_crockford(value: int, width: int = ID_BODY_LENGTH) -> str:
    if value < 0:
        raise ValueError("only non-negative integers encode")
    digits = []
    while value:
        value, rem = divmod(value, 32)
        digits.append(CROCKFORD_ALPHABET[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def new_kf_id(prefix: str) -> str:
    """A fresh id such as `RE_C6PTRN2K`. 40 random bits; collisions are left to the primary key."""
    if not re.fullmatch(r"[A-Z]{2}", prefix):
        raise ValueError(f"prefix must be two upper-case letters, got {prefix!r}")
    return f"{prefix}_{encode_crockford(secrets.randbelow(32**ID_BODY_LENGTH))}"


def is_kf_id(value: object, prefix: str | None = None) -> bool:
    if not isinstance(value, str) or not KF_ID_PATTERN.match(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
