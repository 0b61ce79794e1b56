"""Result cache for anonymous persisted reads (the widget's hot query), with ETags.

Keyed by tenant, persisted query hash, operation name, variables and the tenant's generation
(runtime.freshness): any commit in the tenant makes old entries unreachable. Entries also expire
after a short TTL, which bounds staleness if a generation bump was lost. Only publishable-key
requests without a member token are cached: their answer does not depend on who asks.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

DEFAULT_TTL = 30.0
# Lets a CDN hold anonymous persisted reads briefly; ETags make revalidation cheap.
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"
VARY = "X-Cosource-Key, Authorization, Origin"


@dataclass(frozen=True)
class CachedResult:
    body: bytes
    etag: str
    expires_at: float
    # The hit's response headers, encoded once per entry instead of once per hit.
    headers: tuple[tuple[bytes, bytes], ...] = ()
    not_modified_headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def of(cls, body: bytes, expires_at: float) -> CachedResult:
        etag = etag_for(body)
        shared = (
            (b"etag", etag.encode()),
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"vary", VARY.encode()),
        )
        full = (
            *shared,
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        )
        return cls(body, etag, expires_at, full, shared)


def cache_key(
    tenant_id: int,
    query_hash: str,
    operation: str | None,
    variables: dict[str, Any] | None,
    generation: int,
) -> str:
    return f"{tenant_id}:{generation}:{request_part(query_hash, operation, variables)}"


def request_part(query_hash: str, operation: str | None, variables: dict[str, Any] | None) -> str:
    """The key's part that only the request decides (the front path keeps it per URL)."""
    canonical = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    return f"{query_hash}:{operation or ''}:{canonical.decode()}"


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class ResultCache:
    def __init__(self, capacity: int = 10_000, ttl: float = DEFAULT_TTL) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._entries: OrderedDict[str, CachedResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedResult | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires_at < time.monotonic():
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def hit(self, key: str) -> CachedResult | None:
        """:meth:`get` that does not count a miss: the front path's look-up, which the full path
        repeats (and counts) when it misses (api/front.py)."""
        entry = self._entries.get(key)
        if entry is None or entry.expires_at < time.monotonic():
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: str, body: bytes) -> CachedResult:
        entry = CachedResult.of(body, time.monotonic() + self.ttl)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return entry
