"""SipHash-2-4 with the original's fixed key (k0=1, k1=2), as a signed 64-bit integer.

`/task/submit` replaces `unique_string` by this hash so two tasks with the same string collide on
the (project, hash64) unique constraint.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFFFFFFFFFF


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """The unsigned 64-bit SipHash-2-4 of `data` under the key (k0, k1)."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    tail_len = len(data) % 8
    body = len(data) - tail_len
    for (m,) in struct.iter_unpack("<Q", data[:body]):
        v3 ^= m
        v0, v1, v2, v3 = _round(*_round(v0, v1, v2, v3))
        v0 ^= m
    last = (len(data) & 0xFF) << 56
    last |= int.from_bytes(data[body:], "little")
    v3 ^= last
    v0, v1, v2, v3 = _round(*_round(v0, v1, v2, v3))
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def unique_string_hash(value: str) -> int:
    """int64(SipHash-2-4(key=(1, 2), utf-8 bytes)), the original's `hash64` of a unique string."""
    unsigned = siphash24(1, 2, value.encode("utf-8"))
    return unsigned - (1 << 64) if unsigned >= (1 << 63) else unsigned
