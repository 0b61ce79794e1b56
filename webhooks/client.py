"""One delivery attempt over HTTP: resolve and check the target, POST once, report what happened.

Nothing here raises for a failed delivery: every outcome (refused target, timeout, 5xx, ...) comes
back as an ``AttemptResult`` for the caller to log and schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import cast

import httpx

from engine.settings import get_settings
from webhooks.ssrf import AllowNetworks, ResolvedTarget, UnsafeTargetError, resolve_target
from webhooks.transport import PoolPerServerName

log = logging.getLogger(__name__)

EXCERPT_BYTES = 1024


class Outcome(enum.StrEnum):
    SUCCESS = "success"  # 2xx
    RETRY = "retry"  # anything else: 3xx (never followed), 4xx, 5xx, timeouts, refused targets
    GONE = "gone"  # 410: the receiver asks us to stop; the caller disables the endpoint


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    status_code: int | None
    duration_ms: float
    response_excerpt: str = ""
    # None when a response came back; otherwise timeout, connect_error, tls_error, dns_error,
    # network_error, protocol_error, http_error or unsafe_target:<reason> (for a host name that
    # does not resolve to a public address, always unsafe_target:not_public).
    error: str | None = None
    retry_after_seconds: float | None = None
    remote_ip: str | None = None  # the checked address we connected to, for the delivery log

    @property
    def is_timeout(self) -> bool:
        return self.error == "timeout"


def outcome_for(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.SUCCESS
    if status_code == 410:
        return Outcome.GONE
    return Outcome.RETRY


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP date; None when unusable."""
    if value is None or not (value := value.strip()):
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def make_client(
    *,
    max_connections: int = 100,
    max_keepalive_connections: int = 20,
    max_pools: int = 128,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The one client a worker keeps for all its sends (connection reuse is most of throughput).

    No redirects, no proxies or .netrc from the environment (a proxy would resolve names again),
    no cookie jar shared between tenants' receivers, a pool per TLS server name. ``ssl_context``
    replaces the system CAs (private deployments, tests). Keep ``max_keepalive_connections`` at
    the sender's concurrency: below it, busy receivers get a new connection for most requests.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_keepalive_connections
    )
    return DeliveryClient(
        PoolPerServerName(limits=limits, max_pools=max_pools, ssl_context=ssl_context)
    )


class DeliveryClient(httpx.AsyncClient):
    """The client ``make_client`` builds. ``send`` below hands its requests to the transport
    itself: the client's own layers (auth flow, redirect loop, event hooks, the cookie jar that
    refuses every cookie) did nothing for a webhook and cost about a twentieth of an attempt."""

    def __init__(self, transport: PoolPerServerName) -> None:
        super().__init__(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self.delivery_transport = transport


def _request(
    resolved: ResolvedTarget, body: bytes, headers: Mapping[str, str], timeout: float
) -> httpx.Request:
    target = resolved.target
    # Connect to the checked address, not the name: no second lookup that could answer otherwise.
    extensions: dict[str, object] = {"timeout": httpx.Timeout(timeout).as_dict()}
    if target.scheme == "https" and target.ip_literal is None:
        extensions["sni_hostname"] = target.host  # TLS SNI and certificate checks use the name
    request_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
    request_headers["host"] = target.host_header
    request_headers["accept-encoding"] = "identity"  # the excerpt is raw bytes; no zip bombs
    # Built directly (not client.build_request) so no client-level headers or cookies leak in.
    return httpx.Request(
        "POST",
        target.url.copy_with(host=str(resolved.ip)),
        content=body,
        headers=request_headers,
        extensions=extensions,
    )


async def _read_excerpt(response: httpx.Response, into: bytearray) -> None:
    """At most ~1 KiB of the body; a small body is read to its end so the connection is reused."""
    # aiter_raw is an async generator: close it when we stop early, not whenever GC gets to it.
    chunks_gen = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    async with contextlib.aclosing(chunks_gen) as chunks:
        async for chunk in chunks:
            into += chunk
            if len(into) >= EXCERPT_BYTES:
                break


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """httpx wraps httpcore, which wraps the ssl module: look down the chain."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, UnsafeTargetError):
        if exc.named_host:
            # The delivery log is the tenant's to read: a name's lookup gets one verdict, so the
            # log cannot be used to map internal DNS (the real reason goes to our log).
            log.info("webhook target refused: %s (%s)", exc.message, exc.reason)
            return "unsafe_target:not_public"
        return f"unsafe_target:{exc.reason}"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "tls_error" if _caused_by(exc, ssl.SSLError) else "connect_error"
    if isinstance(exc, httpx.ProtocolError):
        return "protocol_error"
    if isinstance(exc, httpx.NetworkError):
        return "network_error"
    return "http_error"


async def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - a per-endpoint deadline, applied below
    allow_networks: AllowNetworks | None = None,
    client: httpx.AsyncClient | None = None,
) -> AttemptResult:
    """POST ``body`` to ``url`` once; ``timeout`` bounds the whole attempt, lookup included.

    Pass a long-lived ``client`` from ``make_client()``; without one a client is made and closed
    for this attempt (fine for a test webhook, slow in a loop).
    """
    settings = get_settings()
    timeout = settings.webhook_timeout_seconds if timeout is None else timeout
    allow = settings.webhook_allow_networks if allow_networks is None else allow_networks
    if client is None:
        async with make_client() as own_client:
            return await send(
                url, body, headers, timeout=timeout, allow_networks=allow, client=own_client
            )

    started = time.perf_counter()
    status: int | None = None
    retry_after: float | None = None
    excerpt = bytearray()
    remote_ip: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout):
            resolved = await resolve_target(url, allow)
            remote_ip = str(resolved.ip)
            request = _request(resolved, body, headers, timeout)
            if isinstance(client, DeliveryClient):
                response = await client.delivery_transport.handle_async_request(request)
                response.request = request
            else:
                response = await client.send(request, stream=True, follow_redirects=False)
            try:
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                await _read_excerpt(response, excerpt)
            finally:
                await response.aclose()
    except (UnsafeTargetError, TimeoutError, httpx.HTTPError) as exc:
        # Once the status line is in, the receiver has answered: a failure while reading the
        # excerpt only shortens the excerpt.
        if status is None:
            error = _error_name(exc)
    duration_ms = (time.perf_counter() - started) * 1000
    return AttemptResult(
        outcome=Outcome.RETRY if status is None else outcome_for(status),
        status_code=status,
        duration_ms=duration_ms,
        response_excerpt=bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", errors="replace"),
        error=error,
        retry_after_seconds=retry_after,
        remote_ip=remote_ip,
    )
