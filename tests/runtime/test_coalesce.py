"""runtime.coalesce: commits that finish together share one flush, and each waits for its own."""

from __future__ import annotations

import asyncio

from runtime.coalesce import Coalescer


async def test_items_submitted_during_a_flush_share_the_next_one() -> None:
    flushed: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(items: list[int]) -> None:
        flushed.append(items)
        await gate.wait()

    coalescer = Coalescer[int](flush)
    first = asyncio.create_task(coalescer.submit([0]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert flushed == [[0]]  # the first flush is in flight
    later = [asyncio.create_task(coalescer.submit([n])) for n in range(1, 6)]
    await asyncio.sleep(0)
    assert not first.done() and not any(t.done() for t in later)
    gate.set()
    await asyncio.gather(first, *later)
    assert flushed == [[0], [1, 2, 3, 4, 5]]  # one more flush for all five


async def test_a_caller_returns_only_once_its_items_were_flushed() -> None:
    done: set[int] = set()

    async def flush(items: list[int]) -> None:
        await asyncio.sleep(0.01)
        done.update(items)

    coalescer = Coalescer[int](flush)

    async def submit(n: int) -> bool:
        await coalescer.submit([n])
        return n in done

    assert all(await asyncio.gather(*(submit(n) for n in range(20))))
