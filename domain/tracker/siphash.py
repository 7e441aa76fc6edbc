"""The original's `hash64` of a unique string: SipHash-2-4 with its fixed key (k0=1, k1=2), read as
a signed 64-bit integer.

`/task/submit` replaces `unique_string` by this hash so two tasks with the same string collide on
the (project, hash64) unique constraint. The SipHash itself is the `siphash24` package's C code: a
hand-written one cost 16 µs a hash, 1.6 s of CPU inside one 100,000-task bulk submit.
"""

from __future__ import annotations

import siphash24 as _siphash

# SipHash's 128-bit key is k0 then k1, each as 8 little-endian bytes.
ORIGINAL_KEY = (1).to_bytes(8, "little") + (2).to_bytes(8, "little")


def siphash24(key: bytes, data: bytes, *, signed: bool = False) -> int:
    """The 64-bit SipHash-2-4 of `data` under a 16-byte key (its digest is little-endian)."""
    digest = _siphash.siphash24(data, key=key).digest()
    return int.from_bytes(digest, "little", signed=signed)


def unique_string_hash(value: str) -> int:
    """int64(SipHash-2-4(key=(1, 2), utf-8 bytes)), the original's `hash64` of a unique string."""
    return siphash24(ORIGINAL_KEY, value.encode("utf-8"), signed=True)
