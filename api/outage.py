"""A database outage is SERVICE_UNAVAILABLE (HTTP 503, Retry-After) on every route, not only
GraphQL's.

GraphQL maps it where it happens (api.view for authentication, api.extensions for resolvers). The
console's pages and sign-in and the inbound integration webhooks reach the database from plain
Starlette handlers, where an outage would otherwise be a bare 500; senders such as Shopify retry a
503. See docs/architecture.md, "Database outages".
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import unavailable_response
from engine.db import is_unavailable

log = logging.getLogger(__name__)


class OutageAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not is_unavailable(exc):
                raise
            log.warning("database unavailable at %s: %s", scope.get("path"), exc)
            await unavailable_response()(scope, receive, send)
