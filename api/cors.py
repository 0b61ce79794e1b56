"""CORS and WebSocket origins that follow the publishable keys' allowed origins.

Responses name the calling origin (never ``*``) and only when the request's key allows it: a
publishable key restricted to origins gets CORS headers on its responses from those origins only,
and a secret key never does (secret keys do not belong in browsers). A preflight carries no key
(browsers send header names, not values), so it is answered for an origin some active publishable
key allows: listed in a key's origins, or any origin while a key with no list exists (an
unrestricted key is usable from any page, which is what an empty list means). Everything else
gets no CORS headers, and the browser keeps the response from the page.
See docs/architecture.md, "Origins".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import KEY_HEADER
from engine import keys

log = logging.getLogger(__name__)

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = f"authorization, content-type, {KEY_HEADER}, x-request-id"
EXPOSE_HEADERS = "etag, retry-after, x-ratelimit-remaining, x-request-id"
MAX_AGE = "600"
_CACHE_SECONDS = 30.0
# Set by the GraphQL view once it knows the key: True/False, or absent (no key: the preflight rule).
STATE_KEY = "cosource_cors_allowed"


def normalize(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


@dataclass(frozen=True)
class OriginIndex:
    """The origins active publishable keys allow, across tenants (the key is not known yet)."""

    origins: frozenset[str]
    any_origin: bool

    def allows(self, origin: str) -> bool:
        return self.any_origin or normalize(origin) in self.origins


class KnownOrigins:
    """OriginIndex read from the database, cached for 30 s like the keys themselves."""

    def __init__(self) -> None:
        self._cached: tuple[float, OriginIndex] | None = None

    async def index(self) -> OriginIndex:
        now = time.monotonic()
        if self._cached is not None and self._cached[0] > now:
            return self._cached[1]
        rows = await keys.publishable_origin_lists()
        origins: set[str] = set()
        any_origin = False
        for allowed in rows:
            if not allowed:
                any_origin = True
            else:
                origins.update(normalize(o) for o in allowed if isinstance(o, str))
        index = OriginIndex(frozenset(origins), any_origin)
        self._cached = (now + _CACHE_SECONDS, index)
        return index

    def forget(self) -> None:
        self._cached = None

    async def allows(self, origin: str) -> bool:
        try:
            return (await self.index()).allows(origin)
        except Exception as exc:  # an outage: no CORS headers rather than a 500
            log.warning("could not read allowed origins: %s", exc)
            return False


class PerKeyCORS:
    def __init__(self, app: ASGIApp, origins: KnownOrigins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
                break
        if origin is None:  # not a browser's cross-origin request: nothing to add
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                out.append((b"vary", b"Origin"))
                allowed = state.get(STATE_KEY)
                if allowed is None:
                    allowed = await self.origins.allows(origin)
                if allowed:
                    out.append((b"access-control-allow-origin", origin.encode("latin-1")))
                    out.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(self, origin: str, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.origins.allows(origin):
            response = PlainTextResponse(
                "origin not allowed by any publishable key",
                status_code=400,
                headers={"Vary": "Origin"},
            )
        else:
            response = PlainTextResponse(
                "OK",
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": MAX_AGE,
                    "Vary": "Origin",
                },
            )
        await response(scope, receive, send)
