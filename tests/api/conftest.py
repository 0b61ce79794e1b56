"""An HTTP client on the real ASGI app (in-process jobs), plus GraphQL helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import configure_view, create_app
from engine import events
from engine.member_tokens import issue_member_token
from engine.members import MemberData
from engine.settings import get_settings
from engine.tenants import NewTenant
from runtime.background import Background, start_background
from runtime.queue import InProcessJobQueue

# Webhook fixtures (real receivers, fake DNS, settings) for the webhook mutation tests.
from tests.webhooks.conftest import (  # noqa: F401
    fake_dns,
    receiver,
    receiver_server,
    webhook_settings,
)


@dataclass
class Api:
    client: httpx.AsyncClient
    background: Background

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        sk: str | None = None,
        pk: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if sk:
            sent["Authorization"] = f"Bearer {sk}"
        if pk:
            sent["X-Cosource-Key"] = pk
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, **auth: Any
    ) -> dict[str, Any]:
        response = await self.post(query, variables, **auth)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, **auth: Any
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, **auth)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def api(database: str) -> AsyncIterator[Api]:
    app = create_app(manage_db=False)
    background = await start_background()
    app.state.background = background
    configure_view(app.state.graphql, background, get_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client, background)
    # Let running jobs finish: cancelling one inside a SQLite transaction can leave Tortoise's
    # connection lock held, which hangs every later test.
    if isinstance(background.queue, InProcessJobQueue):
        await background.queue.drain()
    await background.close()
    # start_background installed hooks for this process: later engine tests must not enqueue
    # their events to this closed queue (its jobs would race the test's own processing).
    events.install_hooks()


def member_token(tenant: NewTenant, external_id: str, **claims: Any) -> str:
    data = MemberData(
        external_id=external_id,
        display_name=claims.pop("name", external_id),
        verified=claims.pop("verified", True),
        **claims,
    )
    return issue_member_token(tenant.tenant, data)
