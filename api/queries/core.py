"""Core root query fields: campaigns, ideas, members, node."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay
from tortoise.expressions import Q

from api.context import Info
from api.types.campaign import Campaign, CampaignConnection, Threshold
from api.types.comment import Comment
from api.types.enums import CampaignStatusEnum, IdeaOrderEnum, IdeaStatusEnum
from api.types.idea import Idea, IdeaConnection, idea_connection
from api.types.ids import decode_id
from api.types.member import Member, MemberConnection
from api.types.moderation import Flag
from api.types.webhook import WebhookDelivery, WebhookEndpoint
from engine import models as m
from engine import visibility
from engine.errors import NotFound
from engine.pagination import id_page
from engine.text import SLUG_MAX, filter_text

NODE_TYPES: dict[str, type[relay.Node]] = {
    "Campaign": Campaign,
    "Comment": Comment,
    "Idea": Idea,
    "Member": Member,
    "Threshold": Threshold,
    "Flag": Flag,
    "WebhookDelivery": WebhookDelivery,
    "WebhookEndpoint": WebhookEndpoint,
}


@strawberry.type
class CoreQueries:
    @strawberry.field(description="Any object by its global id (null when it is not yours to see).")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        info.context.require_principal()
        try:
            gid = relay.GlobalID.from_id(id)
            node_type = NODE_TYPES[gid.type_name]
            if not 0 < int(gid.node_id) < 2**63:  # beyond int64 no row can match
                return None
        except (relay.GlobalIDValueError, KeyError, ValueError):
            return None
        # Every Node type here resolves asynchronously, to a list (strawberry types it wider).
        found: list[relay.Node | None] = await node_type.resolve_nodes(  # type: ignore[misc]
            info=info, node_ids=[gid.node_id]
        )
        return found[0]

    @strawberry.field(description="The member behind the member token, if any.")
    async def viewer(self, info: Info) -> Member | None:
        info.context.require_principal()
        member = await info.context.viewer()
        return Member.from_row(member) if member else None

    @strawberry.field(description="A campaign by global id or by slug.")
    async def campaign(
        self, info: Info, id: strawberry.ID | None = None, slug: str | None = None
    ) -> Campaign | None:
        info.context.require_principal()
        if id is not None:
            try:
                row = await info.context.loaders.campaign.load(decode_id(id, "Campaign", "id"))
            except NotFound:
                return None
        elif slug is not None:
            query = visibility.visible(m.Campaign, info.context.audience)
            row = await query.get_or_none(slug=filter_text(slug, field="slug", max_len=SLUG_MAX))
        else:
            return None
        return Campaign.from_row(row) if row is not None else None

    @strawberry.field(description="Campaigns, newest first. Drafts are visible to the brand only.")
    async def campaigns(
        self,
        info: Info,
        status: CampaignStatusEnum | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> CampaignConnection:
        info.context.require_principal()
        query = visibility.visible(m.Campaign, info.context.audience)
        if status is not None:
            query = query.filter(status=status)
        page = await id_page(query, first, after)
        return CampaignConnection.from_page(page, Campaign.from_row, query.count)

    @strawberry.field
    async def idea(self, info: Info, id: strawberry.ID) -> Idea | None:
        info.context.require_principal()
        try:
            row = await info.context.loaders.idea.load(decode_id(id, "Idea", "id"))
        except NotFound:
            return None
        return Idea.from_row(row) if row is not None else None

    @strawberry.field(description="Ideas, filtered and ordered; at most 100 per page.")
    async def ideas(
        self,
        info: Info,
        campaign_id: strawberry.ID | None = None,
        order_by: IdeaOrderEnum = IdeaOrderEnum.TOP,
        status: list[IdeaStatusEnum] | None = None,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
        awaiting_response: Annotated[
            bool,
            strawberry.argument(
                description="Only ideas that reached a threshold of their campaign, or are "
                "older than its responseDueDays, and have no official response "
                "(setIdeaStatus) yet."
            ),
        ] = False,
        flagged: Annotated[
            bool | None,
            strawberry.argument(
                description="Secret key or console only: true lists ideas with open flags (on "
                "the idea or its comments), false those without. FORBIDDEN for other keys."
            ),
        ] = None,
        hidden: Annotated[
            bool | None,
            strawberry.argument(
                description="Secret key or console only: true lists the hidden (moderated) "
                "ideas, which no other list shows. FORBIDDEN for other keys."
            ),
        ] = None,
        merged: Annotated[
            bool,
            strawberry.argument(
                description="Secret key or console only: true lists the ideas merged into "
                "others (to unmerge them) instead of the live ones. FORBIDDEN for other keys."
            ),
        ] = False,
    ) -> IdeaConnection:
        info.context.require_principal()
        campaign_pk = decode_id(campaign_id, "Campaign", "campaignId") if campaign_id else None
        return await idea_connection(
            info,
            campaign_id=campaign_pk,
            order_by=order_by,
            status=status,
            search=search,
            first=first,
            after=after,
            awaiting_response=awaiting_response,
            flagged=flagged,
            hidden=hidden,
            merged=merged,
        )

    @strawberry.field
    async def member(self, info: Info, id: strawberry.ID) -> Member | None:
        info.context.require_principal()
        try:
            row = await info.context.loaders.member.load(decode_id(id, "Member", "id"))
        except NotFound:
            return None
        return Member.from_row(row) if row is not None else None

    @strawberry.field(description="Every member, newest first. Secret key only.")
    async def members(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> MemberConnection:
        info.context.require_secret()
        query = visibility.visible(m.Member, info.context.audience)
        term = filter_text(search, field="search")
        if term is not None:
            query = query.filter(Q(display_name__icontains=term) | Q(external_id=term))
        page = await id_page(query, first, after)
        return MemberConnection.from_page(page, Member.from_row, query.count)
