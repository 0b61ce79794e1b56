"""Reputation tests drive the consumer themselves: no hooks, so no background job races them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import events


@pytest.fixture(autouse=True)
def _no_event_hooks() -> Iterator[None]:
    previous = events.installed_hooks()
    events.install_hooks()
    yield
    events.install_hooks(*previous)
