"""Public ids: 26 Crockford base32 characters, time first, so they sort by creation."""

from __future__ import annotations

import os
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


def test_random_parts_are_never_handed_out_twice_across_refills_and_forks() -> None:
    """The random bits come from a per-process pool (engine.ids): a pool inherited by a fork
    would give the child the parent's next ids."""
    ids._pool.clear()
    seen = {ids.ulid()[10:] for _ in range(3 * ids._POOL_IDS + 7)}  # several refills
    assert len(seen) == 3 * ids._POOL_IDS + 7
    assert ids._pool  # the rest of the last refill is left for the next ids
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next random parts, then out without running pytest's exit
        os.close(reader)
        os.write(writer, ",".join(ids.ulid()[10:] for _ in range(20)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {ids.ulid()[10:] for _ in range(20)}
    assert len(child) == 20 and not child & parent
