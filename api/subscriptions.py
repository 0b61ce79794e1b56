"""Root subscription fields (graphql-transport-ws at /graphql)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from api.context import Info
from api.types.idea import Idea
from api.types.ids import decode_id
from engine import models as m
from engine import visibility
from engine.errors import NotFound
from engine.tenancy import tenant_scope


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The idea, each time it changes (votes, pledges, status, comments, merges)."
    )
    async def idea_updated(
        self, info: Info, campaign_id: strawberry.ID
    ) -> AsyncGenerator[Idea, None]:
        principal = info.context.require_principal()
        campaign = decode_id(campaign_id, "Campaign", "campaignId")
        audience = info.context.audience
        with tenant_scope(principal.tenant_id):
            row = await visibility.visible(m.Campaign, audience).get_or_none(id=campaign)
        if row is None:
            raise NotFound("campaign", "campaignId")
        async with info.context.require_live().subscribe(principal.tenant_id) as queue:
            while True:
                message = await queue.get()
                if message.get("campaignId") != campaign:
                    continue
                with tenant_scope(principal.tenant_id):
                    idea = await visibility.ideas(audience).get_or_none(id=message["ideaId"])
                if idea is not None:
                    # Each update is resolved like a new request: the viewer's vote, score and
                    # pledge must be today's, not what the previous update's loaders cached.
                    info.context.forget_loaded()
                    yield Idea.from_row(idea)
