"""The transactional outbox: the engine's event hooks as seen from the webhook side."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from engine.models.events import DomainEvent
from webhooks.queue import JobQueue


class OutboxHooks:
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def before_commit(
        self, connection: BaseDBAsyncClient, events: Sequence[DomainEvent]
    ) -> None:
        return None

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        await self.queue.enqueue("process_events", [event.id for event in events])
