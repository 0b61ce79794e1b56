"""Connection pools for webhook delivery, one per TLS server name.

The client requests the checked IP (``https://203.0.113.7/...``) and passes the real name as the
``sni_hostname`` extension. httpcore keys pooled connections by URL origin only, so two tenants'
hosts behind one address (a CDN) would share a TLS connection whose certificate was verified for
the other name. Keeping a pool per server name makes every request run over a connection that was
verified for its own host. Idle pools are closed so one worker talking to thousands of hosts does
not keep thousands of sockets open.

A server name's connections are split over small httpcore pools of ``SHARD_CONNECTIONS`` each:
httpcore looks at every connection of a pool when a request starts or ends (quadratic in the idle
ones), which cost a worker with 50 attempts in flight to one receiver about a quarter of its CPU.
A request goes to the least busy shard; a new shard opens only when every shard is full.
"""

from __future__ import annotations

import math
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

_PoolKey = tuple[str, str | None]
# Connections per httpcore pool (see above); a server name gets as many shards as its limit needs.
SHARD_CONNECTIONS = 4


class _ReleasingStream(httpx.AsyncByteStream):
    """Marks the pool idle again once the response body is closed (the response outlives send)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:  # once, however often the body is closed
                release()


@dataclass(eq=False)
class _Shard:
    transport: httpx.AsyncHTTPTransport
    busy: int = 0

    def release(self) -> None:
        self.busy -= 1


@dataclass(eq=False)
class _Pool:
    """One server name's connections, in shards of SHARD_CONNECTIONS."""

    shards: list[_Shard]
    busy: int = 0
    last_used: float = 0.0

    def release(self, shard: _Shard) -> None:
        shard.release()
        self.busy -= 1
        self.last_used = time.monotonic()


class PoolPerServerName(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        limits: httpx.Limits,
        max_pools: int = 128,
        idle_seconds: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # One SSL context for all pools: loading the CA bundle costs milliseconds and memory.
        self._ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._max_pools = max_pools
        self._idle_seconds = idle_seconds
        self._pools: OrderedDict[_PoolKey, _Pool] = OrderedDict()
        self._next_sweep = 0.0
        total = limits.max_connections or 100
        self._shard_size = min(SHARD_CONNECTIONS, total)
        self._max_shards = math.ceil(total / self._shard_size)
        keepalive = limits.max_keepalive_connections
        # The keep-alive limit applies per shard: a shard is only opened when the others are full.
        self._shard_limits = httpx.Limits(
            max_connections=self._shard_size,
            max_keepalive_connections=self._shard_size
            if keepalive is None
            else min(self._shard_size, keepalive),
            keepalive_expiry=limits.keepalive_expiry,
        )

    @property
    def pool_count(self) -> int:
        return len(self._pools)

    def shard_sizes(self) -> list[list[int]]:
        """Requests in flight per shard, per pool (tests)."""
        return [[shard.busy for shard in pool.shards] for pool in self._pools.values()]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sni = request.extensions.get("sni_hostname") if request.url.scheme == "https" else None
        key: _PoolKey = (request.url.scheme, sni)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool([])
        self._pools.move_to_end(key)
        shard = self._shard(pool)
        shard.busy += 1
        pool.busy += 1
        pool.last_used = time.monotonic()
        try:
            await self._close_idle_pools()  # never this one: it is busy now
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            pool.release(shard)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, lambda: pool.release(shard))
        return response

    def _shard(self, pool: _Pool) -> _Shard:
        """The least busy shard, or a new one when every shard is full (up to the limit)."""
        best = min(pool.shards, key=lambda shard: shard.busy, default=None)
        if best is None or (best.busy >= self._shard_size and len(pool.shards) < self._max_shards):
            transport = httpx.AsyncHTTPTransport(
                verify=self._ssl_context, limits=self._shard_limits, trust_env=False
            )
            best = _Shard(transport)
            pool.shards.append(best)
        return best

    async def _close_idle_pools(self) -> None:
        now = time.monotonic()
        over = len(self._pools) - self._max_pools
        if over <= 0 and now < self._next_sweep:
            return
        self._next_sweep = now + self._idle_seconds / 2
        doomed: list[_Pool] = []
        for key, pool in list(self._pools.items()):  # least recently used first
            if pool.busy == 0 and (over > 0 or now - pool.last_used > self._idle_seconds):
                # Unlisted before the first await, so no other task can pick it up meanwhile.
                doomed.append(self._pools.pop(key))
                over -= 1
        for pool in doomed:
            await _close(pool)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await _close(pool)


async def _close(pool: _Pool) -> None:
    for shard in pool.shards:
        await shard.transport.aclose()
