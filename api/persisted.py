"""Automatic persisted queries (Apollo's protocol): clients send a SHA-256 instead of the query.

The first request carries both; later ones (and GET requests a CDN can cache) carry the hash only.
Queries are stored in Redis when configured (shared by every API process) and in a bounded LRU.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from redis.asyncio import Redis

from runtime import redis_keys

log = logging.getLogger(__name__)
MAX_QUERY_BYTES = 100_000


@dataclass(frozen=True)
class PersistedQuery:
    hash: str
    query: str
    # Only read-only documents may be served from the result cache.
    read_only: bool


class HashMismatch(ValueError):
    pass


def _read_only(query: str) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(op.operation == OperationType.QUERY for op in operations)


def digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueries:
    def __init__(self, redis: Redis | None = None, capacity: int = 5000) -> None:
        self.redis = redis
        self.capacity = capacity
        self._lru: OrderedDict[str, PersistedQuery] = OrderedDict()

    def _remember(self, entry: PersistedQuery) -> PersistedQuery:
        self._lru[entry.hash] = entry
        self._lru.move_to_end(entry.hash)
        while len(self._lru) > self.capacity:
            self._lru.popitem(last=False)
        return entry

    def cached(self, query_hash: str) -> PersistedQuery | None:
        """The query when this process holds it, without asking Redis (api/front.py)."""
        entry = self._lru.get(query_hash)
        if entry is not None:
            self._lru.move_to_end(query_hash)
        return entry

    async def get(self, query_hash: str) -> PersistedQuery | None:
        entry = self._lru.get(query_hash)
        if entry is not None:
            self._lru.move_to_end(query_hash)
            return entry
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(redis_keys.persisted_query(query_hash))
        except Exception as exc:
            log.warning("persisted query store unavailable: %s", exc)
            return None
        if raw is None:
            return None
        query = raw.decode() if isinstance(raw, bytes) else str(raw)
        return self._remember(PersistedQuery(query_hash, query, _read_only(query)))

    async def put(self, query_hash: str, query: str) -> PersistedQuery:
        if len(query) > MAX_QUERY_BYTES or digest(query) != query_hash.lower():
            raise HashMismatch("provided sha does not match query")
        entry = self._remember(PersistedQuery(query_hash.lower(), query, _read_only(query)))
        if self.redis is not None:
            try:
                await self.redis.set(redis_keys.persisted_query(entry.hash), query)
            except Exception as exc:
                log.warning("could not store persisted query: %s", exc)
        return entry
