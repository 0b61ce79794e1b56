"""Public ids: 26 Crockford base32 characters, time first, so they sort by creation."""

from __future__ import annotations

import time

from engine import ids


def test_ids_are_crockford_base32_and_sort_by_creation_time() -> None:
    first = ids.ulid()
    time.sleep(0.002)
    later = [ids.ulid() for _ in range(50)]
    for value in [first, *later]:
        assert len(value) == 26 and set(value) <= set(ids._ALPHABET)
    assert all(first < value for value in later)
    assert len(set(later)) == 50


def test_the_time_part_reads_back_as_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.ulid()
    after = time.time_ns() // 1_000_000
    millis = 0
    for char in value[:10]:  # 10 characters = 50 bits: 2 zero bits, then the 48 of the time
        millis = millis * 32 + ids._ALPHABET.index(char)
    assert before <= millis <= after
