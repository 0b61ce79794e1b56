"""A member action whose first read is stale: the race of a change that commits between an
action's unlocked read and its lock, played without threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import interactions


def first_read_stale(
    monkeypatch: pytest.MonkeyPatch, stale: interactions.Reading
) -> Callable[[], int]:
    """``interactions.read_action`` answers ``stale`` once, then reads for real; the returned
    function tells how many reads there were (two: the action ran again)."""
    reads = 0
    real = interactions.read_action

    async def read(kind: interactions.Kind, member_id: int, idea_id: int) -> Any:
        nonlocal reads
        reads += 1
        return stale if reads == 1 else await real(kind, member_id, idea_id)

    monkeypatch.setattr(interactions, "read_action", read)
    return lambda: reads
