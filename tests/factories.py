"""Building blocks for tests: real rows made through the engine's own operations."""

from __future__ import annotations

import itertools
from typing import Any

from engine import campaigns, ideas
from engine.members import MemberData, upsert_member
from engine.models import Campaign, CampaignStatus, Idea, Member
from engine.thresholds import ThresholdSpec

_seq = itertools.count(1)


async def member(**overrides: Any) -> Member:
    n = next(_seq)
    data: dict[str, Any] = {
        "external_id": f"cus_{n}",
        "display_name": f"Customer {n}",
        "email": f"c{n}@example.com",
        "verified": True,
    }
    data.update(overrides)
    return await upsert_member(MemberData(**data))


async def members(count: int, **overrides: Any) -> list[Member]:
    return [await member(**overrides) for _ in range(count)]


async def campaign(
    *, open: bool = True, thresholds: tuple[ThresholdSpec, ...] = (), **overrides: Any
) -> Campaign:
    n = next(_seq)
    data: dict[str, Any] = {"title": f"Campaign {n}", "slug": f"campaign-{n}"}
    data.update(overrides)
    row = await campaigns.create_campaign(campaigns.CampaignInput(thresholds=thresholds, **data))
    if open:
        row = await campaigns.set_campaign_status(row.id, CampaignStatus.OPEN)
    return row


async def idea(author: Member, in_campaign: Campaign, **overrides: Any) -> Idea:
    n = next(_seq)
    data: dict[str, Any] = {"title": f"Idea number {n}", "body": f"Body of idea {n}"}
    if in_campaign.terms_version:
        data["accepted_terms_version"] = in_campaign.terms_version
    data.update(overrides)
    return await ideas.submit_idea(author, ideas.IdeaInput(campaign_id=in_campaign.id, **data))
