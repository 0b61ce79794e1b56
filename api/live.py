"""Live updates for subscriptions: committed idea changes fanned out to every API process.

After a commit, LiveHooks publish one small message per changed idea on the tenant's channel. With
Redis, each process keeps ONE pub/sub connection and subscribes on it to a tenant's channel only
while it has a local subscriber of that tenant: Redis connections do not grow with the number of
open websockets, and a process serving no subscriber of a tenant receives none of its messages
(with a pattern subscription every process read and parsed every vote of every tenant). Without
Redis the same local fan-out runs in memory. Messages carry ids only: subscribers re-read the idea
in their tenant scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
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


# How long a new subscriber waits for Redis to confirm its tenant's channel before going on
# without it (live updates are best effort; the reader subscribes again once Redis is back).
CONFIRM_TIMEOUT = 2.0


class Broadcaster:
    """Local fan-out to this process's subscribers; publishing goes through Redis when set."""

    def __init__(self, redis: Redis | None = None) -> None:
        self.redis = redis
        self._subscribers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._pubsub: Any = None
        # A tenant's channel subscribed on the current connection: confirmed once Redis said so.
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        # Messages read from Redis by this process (tests and metrics: what it was sent).
        self.received = 0

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
        """A queue of the tenant's messages; with Redis, yielded once Redis confirmed this
        process's subscription to the tenant's channel, so nothing committed after it is missed
        (or after ``CONFIRM_TIMEOUT``, when Redis does not answer)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        local = self._subscribers.setdefault(tenant_id, set())
        local.add(queue)
        try:
            if self.redis is not None:
                await self._listen(tenant_id)
            yield queue
        finally:
            local.discard(queue)
            if not local and self._subscribers.get(tenant_id) is local:
                del self._subscribers[tenant_id]
                if self.redis is not None:
                    await self._unlisten(tenant_id)

    async def _listen(self, tenant_id: int) -> None:
        channel = redis_keys.live_channel(tenant_id)
        confirmed = self._confirmed.get(channel)
        if confirmed is None:
            confirmed = self._confirmed[channel] = asyncio.get_running_loop().create_future()
            if self._pubsub is not None:
                with contextlib.suppress(Exception):  # the reader subscribes it on reconnect
                    await self._pubsub.subscribe(channel)
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT)
        except TimeoutError:
            log.warning("live channel of tenant %s not confirmed by Redis; going on", tenant_id)

    async def _unlisten(self, tenant_id: int) -> None:
        channel = redis_keys.live_channel(tenant_id)
        self._confirmed.pop(channel, None)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # a lost connection dropped it already
                await self._pubsub.unsubscribe(channel)

    async def _read_redis(self) -> None:
        """The one pub/sub connection: a channel of this process's own keeps it open while no
        tenant is subscribed (redis-py stops listening on a connection with no subscription),
        and after a lost connection every wanted channel is subscribed again."""
        assert self.redis is not None
        own = redis_keys.live_channel(0) + f":process:{secrets.token_hex(8)}"
        while True:
            pubsub = self.redis.pubsub()
            try:
                wanted = list(self._confirmed)
                await pubsub.subscribe(own, *wanted)
                self._pubsub = pubsub
                # Subscribers that came while that was under way found no connection to use.
                missed = [channel for channel in self._confirmed if channel not in wanted]
                if missed:
                    await pubsub.subscribe(*missed)
                async for item in pubsub.listen():
                    kind = item.get("type")
                    channel = item["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    if kind == "subscribe":
                        confirmed = self._confirmed.get(channel)
                        if confirmed is not None and not confirmed.done():
                            confirmed.set_result(None)
                    elif kind == "message":
                        self.received += 1
                        tenant_id = int(channel.rsplit(":", 1)[1])
                        self._deliver(tenant_id, orjson.loads(item["data"]))
            except asyncio.CancelledError:
                self._pubsub = None
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as exc:
                log.warning("live subscription lost (%s); reconnecting", exc)
                self._pubsub = None
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
