"""Public identifiers: sortable (time first, like ULID) and unguessable."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


# Two characters (10 bits) per step.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_TIME_SHIFTS = (40, 30, 20, 10, 0)  # 2 zero bits and 48 bits of milliseconds: 10 characters
_RANDOM_SHIFTS = (70, 60, 50, 40, 30, 20, 10, 0)  # 80 random bits: 16 characters

# Every request gets an id, so this is on the hot path: an id is the current millisecond's
# characters (made once per millisecond) and a random part taken from a pool, drawn from the OS's
# generator and encoded 256 at a time. One getrandom() and the whole encoding per id cost a cache
# hit (api/front.py) about 6 us of its ~54 in a busy server, several times what they cost alone;
# the random bytes are the same ones, read in bigger pieces. Each process has its own pool: a
# forked child starts with an empty one (two processes never hand out the same part), and
# list.pop is atomic, so two threads never take the same entry either.
_POOL_IDS = 256
_RANDOM_BYTES = 10
_pool: list[str] = []
_stamp: tuple[int, str] = (-1, "")  # (millisecond, its characters), replaced as one value


def _encode(value: int, shifts: tuple[int, ...]) -> str:
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in shifts])


def _refill() -> None:
    data = os.urandom(_RANDOM_BYTES * _POOL_IDS)
    for at in range(0, len(data), _RANDOM_BYTES):
        value = int.from_bytes(data[at : at + _RANDOM_BYTES], "big")
        _pool.append(_encode(value, _RANDOM_SHIFTS))


os.register_at_fork(after_in_child=_pool.clear)


def _random_part() -> str:
    """80 random bits as 16 characters, never handed out before in this process."""
    while True:
        try:
            return _pool.pop()
        except IndexError:
            _refill()


def ulid() -> str:
    """48 bits of milliseconds then 80 random bits, 26 characters; sorts by creation time."""
    global _stamp
    millis = time.time_ns() // 1_000_000
    stamp = _stamp
    if stamp[0] != millis:
        stamp = _stamp = (millis, _encode(millis, _TIME_SHIFTS))
    return stamp[1] + _random_part()


def event_id() -> str:
    return f"evt_{ulid()}"
