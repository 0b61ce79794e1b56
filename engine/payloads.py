"""JSON shapes of events (and therefore of webhook bodies): stable, documented, self-contained.

Ids are the same opaque global ids the GraphQL API uses, so a receiver can query what it was told.
"""

from __future__ import annotations

import base64
from typing import Any

from engine.clock import iso
from engine.models.campaigns import Campaign, Threshold
from engine.models.ideas import Idea
from engine.models.members import Member
from engine.ranking import Counters

BODY_EXCERPT = 1000


def global_id(type_name: str, pk: int) -> str:
    """Relay global id: base64 of "Type:pk", identical to what the GraphQL layer emits."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def counts(counters: Counters) -> dict[str, Any]:
    return {
        "upvotes": counters.upvotes,
        "downvotes": counters.downvotes,
        "netVotes": counters.net_votes,
        "scoreCount": counters.score_count,
        "averageScore": round(counters.score_sum / counters.score_count, 4)
        if counters.score_count
        else None,
        "pledgers": counters.pledgers,
        "pledgedQuantity": counters.pledged_quantity,
        "comments": counters.comment_count,
    }


def campaign_ref(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": global_id("Campaign", campaign.id),
        "slug": campaign.slug,
        "title": campaign.title,
        "mode": campaign.mode.value,
        "status": campaign.status.value,
    }


def member_ref(member: Member, *, with_email: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "id": global_id("Member", member.id),
        "externalId": member.external_id,
        "displayName": member.display_name,
    }
    if with_email:
        ref["email"] = member.email
    return ref


def idea(idea: Idea, campaign: Campaign, author: Member, counters: Counters) -> dict[str, Any]:
    return {
        "id": global_id("Idea", idea.id),
        "title": idea.title,
        # An excerpt keeps every body under the 20 kB webhook limit; GraphQL has the whole text.
        "body": idea.body[:BODY_EXCERPT],
        "bodyTruncated": len(idea.body) > BODY_EXCERPT,
        "status": idea.status.value,
        "createdAt": iso(idea.created_at),
        "campaign": campaign_ref(campaign),
        "author": member_ref(author),
        "counts": counts(counters),
    }


def threshold(threshold: Threshold) -> dict[str, Any]:
    return {
        "id": global_id("Threshold", threshold.id),
        "name": threshold.name,
        "metric": threshold.metric.value,
        "value": threshold.value,
        "minCount": threshold.min_count,
    }
