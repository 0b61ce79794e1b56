"""Public identifiers: sortable (time first, like ULID) and unguessable."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


# Two characters (10 bits) per step: every request gets an id, so this is on the hot path.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


def ulid() -> str:
    """48 bits of milliseconds then 80 random bits, 26 characters; sorts by creation time."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def event_id() -> str:
    return f"evt_{ulid()}"
