"""Request limits that fit a public key: fixed one-minute windows, counted in Redis (shared by every
API process) or in memory for the embedded single-process default.

A publishable key is public, so its ceiling alone would let one visitor lock every shopper out.
Each request is therefore counted in narrower buckets first: the visitor's IP address (per key)
and, with a member token, the member. A request refused there is not counted against the key's
ceiling, so one visitor exhausting their share leaves the others unaffected. Secret keys are a
brand's own servers: only their key's ceiling applies. Requests with no or an unknown key are
limited per IP. Client addresses come from X-Forwarded-For only when the direct peer is a trusted
proxy (``COSOURCE_TRUSTED_PROXIES``). See docs/architecture.md, "Rate limits".

On Redis every bucket of a request is counted by one script, in one round trip.
A limiter that cannot reach Redis lets requests through: throttling protects the service, it must
not become the outage.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from runtime import redis_keys

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int


# A request's buckets with their limits, narrowest first.
Buckets = Sequence[tuple[str | int, int]]


class RateLimiter(Protocol):
    async def hit(self, buckets: Buckets) -> list[Verdict]:
        """Count one request in each bucket in turn, stopping after the first that refuses it
        (the wider ones are not counted); the verdicts of the buckets counted, in order."""
        ...


def _window(now: float) -> tuple[int, int]:
    window = int(now // WINDOW_SECONDS)
    return window, int((window + 1) * WINDOW_SECONDS - now) + 1


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str | int, int], int] = {}

    async def hit(self, buckets: Buckets) -> list[Verdict]:
        window, retry_after = _window(time.time())
        if len(self._counts) > 50_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
        verdicts = []
        for bucket, limit in buckets:
            count = self._counts.get((bucket, window), 0) + 1
            self._counts[(bucket, window)] = count
            verdicts.append(Verdict(count <= limit, max(limit - count, 0), retry_after))
            if count > limit:
                break
        return verdicts


# KEYS: the buckets' counters, narrowest first; ARGV[1]: their expiry; ARGV[1 + i]: KEYS[i]'s
# limit. Counts each in turn and stops after the first over its limit: what RequestLimiter did
# with one INCR and EXPIRE per bucket, in one round trip (docs/architecture.md, "Rate limits").
_HIT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  counts[i] = count
  if count > tonumber(ARGV[i + 1]) then break end
end
return counts
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def hit(self, buckets: Buckets) -> list[Verdict]:
        window, retry_after = _window(time.time())
        keys = [redis_keys.rate_limit(bucket, window) for bucket, _ in buckets]
        try:
            limits = [str(limit) for _, limit in buckets]
            counts = await self.redis.eval(  # type: ignore[misc]
                _HIT, len(keys), *keys, str(WINDOW_SECONDS * 2), *limits
            )
        except Exception as exc:
            log.warning("rate limiter unavailable (%s); letting the request through", exc)
            return [Verdict(True, limit, 0) for _, limit in buckets]
        return [
            Verdict(count <= limit, max(limit - count, 0), retry_after)
            for count, (_, limit) in zip(counts, buckets, strict=False)
        ]


@dataclass(frozen=True)
class RateLimits:
    """Requests per minute; 0 turns a bucket off."""

    key: int = 600
    ip: int = 120
    member: int = 120
    anonymous: int = 60


def parse_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``COSOURCE_TRUSTED_PROXIES``: comma-separated addresses or CIDRs."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


class ClientAddress:
    """Who the visitor is: the direct peer, or, when that peer is a trusted proxy, the nearest
    untrusted address in X-Forwarded-For (walking right to left, as each proxy appends)."""

    # Remembered answers: every request asks, and most come from a few peers and proxy chains.
    MEMORY = 4096

    def __init__(self, trusted: str = "") -> None:
        self.trusted = parse_networks(trusted)
        self._known: dict[tuple[str | None, str | None], str] = {}

    def _is_trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.trusted)

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str:
        key = (peer, forwarded_for)
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= self.MEMORY:
                self._known.clear()
            found = self._known[key] = self._resolve(peer, forwarded_for)
        return found

    def _resolve(self, peer: str | None, forwarded_for: str | None) -> str:
        address = _parse(peer)
        if address is None:
            return peer or "unknown"
        if forwarded_for and self.trusted and self._is_trusted(address):
            for part in reversed(forwarded_for.split(",")):
                hop = _parse(part.strip())
                if hop is None:
                    break  # garbage from further out: the last good hop is what we know
                address = hop
                if not self._is_trusted(hop):
                    break
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(address)


def client_ip(connection: HTTPConnection) -> str:
    """The visitor's address behind the trusted proxies (``COSOURCE_TRUSTED_PROXIES``, set on the
    app by ``api.app.create_app``): what the audit log records, and what rate limits and console
    sign-in throttling count (through :func:`ip_bucket`). One function, so a spoofed
    X-Forwarded-For from an untrusted peer fools none of them."""
    resolver = connection.scope.get("app") and getattr(connection.app.state, "client_address", None)
    peer = connection.client.host if connection.client else None
    return (resolver or _TRUST_NOBODY).resolve(peer, connection.headers.get("x-forwarded-for"))


@functools.lru_cache(maxsize=4096)
def ip_bucket(address: str) -> str:
    """What throttling counts for an address: IPv6 by /64, as one visitor usually holds a whole
    /64 and could otherwise rotate through it. Remembered per address: every limited request
    asks, and parsing it was a visible part of a vote's CPU."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


def _parse(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


_TRUST_NOBODY = ClientAddress()


class RequestLimiter:
    """Applies RateLimits to one request, narrowest bucket first."""

    def __init__(self, counter: RateLimiter, limits: RateLimits) -> None:
        self.counter = counter
        self.limits = limits

    async def _check(self, buckets: list[tuple[str, int]]) -> Verdict | None:
        """Every bucket of the request in one call (one round trip on Redis): the refusal, or
        the verdict of the bucket closest to its limit (its remaining is the header's)."""
        counted = [(bucket, limit) for bucket, limit in buckets if limit > 0]
        if not counted:
            return None
        verdicts = await self.counter.hit(counted)
        if not verdicts[-1].allowed:
            return verdicts[-1]  # not counted in the wider buckets
        return min(verdicts, key=lambda verdict: verdict.remaining)

    async def check(
        self, key_id: int, client: str, *, member_id: int | None, public: bool
    ) -> Verdict | None:
        buckets: list[tuple[str, int]] = []
        if public:
            buckets.append((f"ip:{key_id}:{client}", self.limits.ip))
            if member_id is not None:
                buckets.append((f"member:{member_id}", self.limits.member))
        buckets.append((f"key:{key_id}", self.limits.key))
        return await self._check(buckets)

    async def check_anonymous(self, client: str) -> Verdict | None:
        """No key, or one that is unknown: per IP only."""
        return await self._check([(f"ip:-:{client}", self.limits.anonymous)])
