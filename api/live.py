"""Live updates for subscriptions: committed idea changes fanned out to every API process.

After a commit, LiveHooks publish one small message per changed idea on the tenant's channel. With
Redis, each process keeps ONE pattern subscription and hands messages to its local subscribers, so
Redis connections do not grow with the number of open websockets; without Redis the same local
fan-out runs in memory. Messages carry ids only: subscribers re-read the idea in their tenant scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.events import AfterCommitHook, EventType
from engine.models.events import DomainEvent
from runtime import redis_keys
from runtime.coalesce import Coalescer

log = logging.getLogger(__name__)
QUEUE_SIZE = 100

LIVE_EVENT_TYPES = frozenset(
    {
        EventType.IDEA_CREATED,
        EventType.IDEA_VOTED,
        EventType.IDEA_SCORED,
        EventType.IDEA_PLEDGED,
        EventType.IDEA_STATUS_CHANGED,
        EventType.IDEA_THRESHOLD_REACHED,
        EventType.IDEA_MERGED,
        EventType.IDEA_UNMERGED,
        EventType.COMMENT_CREATED,
        EventType.IDEA_FLAGGED,
        EventType.IDEA_UNFROZEN,
    }
)


class Broadcaster:
    """Local fan-out to this process's subscribers; publishing goes through Redis when set."""

    def __init__(self, redis: Redis | None = None) -> None:
        self.redis = redis
        self._subscribers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.redis is not None and self._reader is None:
            self._reader = asyncio.create_task(self._read_redis())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def publish(self, tenant_id: int, message: dict[str, Any]) -> None:
        await self.publish_many([(tenant_id, message)])

    async def publish_many(self, messages: list[tuple[int, dict[str, Any]]]) -> None:
        """Every message in one round trip (a pipeline), in order."""
        if self.redis is None:
            for tenant_id, message in messages:
                self._deliver(tenant_id, message)
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for tenant_id, message in messages:
                    pipe.publish(redis_keys.live_channel(tenant_id), orjson.dumps(message))
                await pipe.execute()
        except Exception as exc:  # live updates are best effort; the data is committed
            log.warning("live update not published: %s", exc)

    def _deliver(self, tenant_id: int, message: dict[str, Any]) -> None:
        for queue in self._subscribers.get(tenant_id, ()):
            if queue.full():  # a slow client loses the oldest update, never blocks the rest
                queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: int) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.setdefault(tenant_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._subscribers[tenant_id].discard(queue)

    async def _read_redis(self) -> None:
        assert self.redis is not None
        prefix = redis_keys.live_channel(0)[:-1]
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(prefix + "*")
                async for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    channel = (
                        item["channel"].decode()
                        if isinstance(item["channel"], bytes)
                        else item["channel"]
                    )
                    self._deliver(int(channel.rsplit(":", 1)[1]), orjson.loads(item["data"]))
            except asyncio.CancelledError:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as exc:
                log.warning("live subscription lost (%s); reconnecting", exc)
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(1)


class LiveHooks(AfterCommitHook):
    """One message per changed idea; commits that finish together publish each distinct message
    once (runtime.coalesce): subscribers re-read the idea, so one message says it all. On Redis
    the messages join the process's one after-commit pipeline (``runtime.coalesce.Pipelined``)."""

    what = "live updates"

    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster
        self._messages = Coalescer[tuple[int, str, int, int | None]](self._publish)

    def pipelined_redis(self) -> Redis | None:
        return self.broadcaster.redis

    def items(self, events: Sequence[DomainEvent]) -> list[tuple[int, str, int, int | None]]:
        seen: set[int] = set()
        messages = []
        for event in events:
            if event.type not in LIVE_EVENT_TYPES or event.idea_id is None or event.idea_id in seen:
                continue
            seen.add(event.idea_id)
            messages.append((event.tenant_id, event.type, event.idea_id, event.campaign_id))
        return messages

    def write(self, pipe: Pipeline, items: list[tuple[int, str, int, int | None]]) -> None:
        for tenant_id, message in _messages(items):
            pipe.publish(redis_keys.live_channel(tenant_id), orjson.dumps(message))

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        messages = self.items(events)
        if messages:
            await self._messages.submit(messages)

    async def _publish(self, messages: list[tuple[int, str, int, int | None]]) -> None:
        await self.broadcaster.publish_many(_messages(messages))


def _messages(
    items: list[tuple[int, str, int, int | None]],
) -> list[tuple[int, dict[str, Any]]]:
    return [
        (tenant_id, {"type": type, "ideaId": idea_id, "campaignId": campaign_id})
        for tenant_id, type, idea_id, campaign_id in dict.fromkeys(items)
    ]
