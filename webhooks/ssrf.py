"""SSRF guard: webhook URLs are chosen by tenants, so they must never reach our own network.

``validate_url`` checks syntax when an endpoint is created; ``resolve_target`` runs before every
attempt, resolves the host once (an answer is reused for ``LOOKUP_TTL`` seconds, and checked again
on every attempt) and returns the checked address, which the client then connects to (a second
lookup could answer differently: DNS rebinding). Both parse with ``httpx.URL``, the
parser the client sends with, so the host we check is the host we connect to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AllowNetworks = str | Sequence[IPNetwork]

MAX_URL_LENGTH = 2000
_SCHEMES = ("http", "https")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215 local-use NAT64: the embedded address may sit at several offsets, so refuse it whole.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsafeTargetError(Exception):
    """A webhook URL we will not call; ``reason`` is stable and machine-readable.

    Reasons: invalid_url, url_too_long, scheme_not_allowed, missing_host, userinfo_not_allowed,
    invalid_port, dns_error, no_address, unspecified, loopback, private, shared_address,
    link_local, multicast, reserved, not_global.
    """

    def __init__(
        self, reason: str, message: str | None = None, *, public_message: str | None = None
    ) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
        # What the tenant is told. For a host name, one sentence whatever the lookup found:
        # "does not resolve", "resolves to 10.x" and "resolves to loopback" would let a tenant
        # map the internal DNS (the detailed reason stays in ``reason`` and the logs).
        self.public_message = public_message or self.message

    @property
    def named_host(self) -> bool:
        return self.public_message != self.message


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    url: httpx.URL
    scheme: str
    host: str  # ASCII (IDNA) form, no brackets: what goes into SNI and is resolved
    port: int
    ip_literal: IPAddress | None

    @property
    def host_header(self) -> str:
        """The ``Host`` value: the name (and non-default port) the URL was written with."""
        return self.url.netloc.decode("ascii")


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    target: ParsedTarget
    ip: IPAddress  # the checked address to connect to
    addresses: tuple[IPAddress, ...]  # every address the name resolved to, all checked


@lru_cache(maxsize=1024)
def validate_url(url: str) -> ParsedTarget:
    """Check a webhook URL's syntax (at endpoint creation and before each attempt).

    Remembered per URL (a refusal is not: it raises again): the answer depends on the text only,
    and parsing it was a tenth of an attempt's own work."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTargetError("url_too_long", f"URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise UnsafeTargetError("invalid_url", "URL contains whitespace or control characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeTargetError("invalid_url", f"URL is not valid: {exc}") from exc
    if parsed.scheme not in _SCHEMES:
        raise UnsafeTargetError("scheme_not_allowed", "URL must start with http:// or https://")
    if not parsed.raw_host:
        raise UnsafeTargetError("missing_host", "URL has no host")
    if parsed.userinfo:
        raise UnsafeTargetError("userinfo_not_allowed", "URL must not contain user:password@")
    port = parsed.port
    if port is not None and not 1 <= port <= 65535:
        raise UnsafeTargetError("invalid_port", "URL port must be between 1 and 65535")
    host = parsed.raw_host.decode("ascii")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    return ParsedTarget(
        url=parsed.copy_with(fragment=None),
        scheme=parsed.scheme,
        host=host,
        port=port or (443 if parsed.scheme == "https" else 80),
        ip_literal=literal,
    )


@lru_cache(maxsize=32)
def parse_networks(spec: str) -> tuple[IPNetwork, ...]:
    """``COSOURCE_WEBHOOK_ALLOW_NETWORKS``: comma-separated CIDRs, e.g. ``127.0.0.0/8,::1/128``."""
    return tuple(ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip())


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a packet to ``ip`` really reaches (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination, or None when it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return "private"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _refusal(embedded)
        if ip.scope_id:
            return "link_local"
    # Most specific first so the reason is useful; `is_global` last catches whatever remains
    # (documentation ranges, benchmarking, ...). The explicit checks also cover gaps in
    # `is_global`, e.g. multicast counts as global in Python 3.11.
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link_local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("shared_address", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("link_local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("not_global", not ip.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def _allowed(ip: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        candidates.append(embedded)
    return any(c.version == n.version and c in n for c in candidates for n in networks)


def check_address(ip: IPAddress, allow_networks: AllowNetworks = ()) -> None:
    """Raise ``UnsafeTargetError`` unless ``ip`` is public or inside an allow-listed network."""
    networks = parse_networks(allow_networks) if isinstance(allow_networks, str) else allow_networks
    if _allowed(ip, networks):
        return
    reason = _refusal(ip)
    if reason is not None:
        raise UnsafeTargetError(reason, f"{ip} is not a public address ({reason})")


# A name's addresses are reused for this long: every attempt still checks them (the refusal
# rules run on a remembered answer as on a fresh one), but a batch of attempts to one receiver
# no longer sends each lookup to the resolver's thread. Failed lookups are not remembered.
LOOKUP_TTL = 5.0
_answers: dict[tuple[str, int], tuple[float, tuple[IPAddress, ...]]] = {}
_MAX_ANSWERS = 4096
_now = time.monotonic


def forget_lookups() -> None:
    """Drop every remembered answer (tests that change what a name resolves to)."""
    _answers.clear()


async def _lookup(host: str, port: int, remembered: bool) -> tuple[IPAddress, ...]:
    now = _now()
    answer = _answers.get((host, port)) if remembered else None
    if answer is not None and answer[0] > now:
        return answer[1]
    found = await _resolve(host, port)
    if len(_answers) >= _MAX_ANSWERS:
        _answers.clear()
    _answers[(host, port)] = (now + LOOKUP_TTL, found)
    return found


async def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTargetError("dns_error", f"cannot resolve {host}: {exc}") from exc
    found: dict[IPAddress, None] = {}
    for family, *_, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[ipaddress.ip_address(sockaddr[0])] = None
    return tuple(found)


async def resolve_target(
    url: str, allow_networks: AllowNetworks = (), *, remembered: bool = True
) -> ResolvedTarget:
    """Resolve once and check every address; the caller must connect to ``.ip`` and nothing else.

    ``remembered=False`` asks the resolver even when an answer younger than LOOKUP_TTL is known
    (a URL being saved is checked against what its name resolves to now).

    A name with any unsafe address is refused outright rather than filtered: a public receiver
    has no reason to publish private records, and mixing them is a rebinding trick.
    """
    target = validate_url(url)
    if target.ip_literal is not None:
        addresses: tuple[IPAddress, ...] = (target.ip_literal,)
        for ip in addresses:
            check_address(ip, allow_networks)
    else:
        try:
            addresses = await _lookup(target.host, target.port, remembered)
            if not addresses:
                raise UnsafeTargetError("no_address", f"{target.host} has no address")
            for ip in addresses:
                check_address(ip, allow_networks)
        except UnsafeTargetError as exc:
            raise UnsafeTargetError(
                exc.reason,
                exc.message,
                public_message=f"{target.host} does not resolve to a public address",
            ) from exc
    # Prefer IPv4: plenty of workers (containers) have no IPv6 route at all.
    chosen = min(addresses, key=lambda a: a.version)
    if isinstance(chosen, ipaddress.IPv6Address) and chosen.ipv4_mapped is not None:
        chosen = chosen.ipv4_mapped  # the same destination, and works without an IPv6 stack
    return ResolvedTarget(target=target, ip=chosen, addresses=addresses)
