"""Pledges ("I'd buy it"): a quantity per member and idea; 0 withdraws.

New or larger pledges need an open campaign and an idea still wanted (not shipped or declined).
A pledge can be lowered or withdrawn until production starts (IN_PROGRESS), even after the campaign
closed: it is the customer's purchase intent, not a vote.
"""

from __future__ import annotations

from engine import counters, events
from engine.eligibility import ensure_can_participate
from engine.errors import DomainError, ErrorCode, NotFound
from engine.events import EventType
from engine.ideas import get_idea
from engine.models.campaigns import Campaign, CampaignMode, Threshold
from engine.models.ideas import IdeaStatus
from engine.models.interactions import Pledge
from engine.models.members import Member
from engine.thresholds import PLEDGE_METRICS, record_crossings

MAX_QUANTITY = 1000
_PRODUCED = frozenset({IdeaStatus.IN_PROGRESS, IdeaStatus.SHIPPED})
_NOT_WANTED = frozenset({IdeaStatus.SHIPPED, IdeaStatus.DECLINED})


async def pledge(member: Member, idea_id: int, quantity: int) -> counters.Outcome:
    if not 0 <= quantity <= MAX_QUANTITY:
        raise DomainError(ErrorCode.OUT_OF_RANGE, f"quantity must be 0-{MAX_QUANTITY}", "quantity")
    async with events.unit_of_work():
        idea = await get_idea(idea_id, "ideaId", for_update=True)
        if idea.hidden:
            raise NotFound("idea", "ideaId")
        campaign = await Campaign.get(id=idea.campaign_id)
        row = await Pledge.filter(idea_id=idea.id, member_id=member.id).select_for_update().first()
        old = row.quantity if row else 0
        if quantity == old:
            return counters.Outcome(idea, counters.counters_of(idea), quantity, changed=False)
        if quantity > old:
            if idea.merged_into_id is not None:
                raise DomainError(
                    ErrorCode.IDEA_CLOSED, "this idea was merged into another", "ideaId"
                )
            if idea.frozen:
                raise DomainError(
                    ErrorCode.IDEA_FROZEN, "this idea is frozen pending review", "ideaId"
                )
            if idea.status in _NOT_WANTED:
                raise DomainError(
                    ErrorCode.IDEA_CLOSED, f"this idea is {idea.status.value.lower()}", "ideaId"
                )
            ensure_can_participate(member, campaign)
        elif idea.status in _PRODUCED:
            raise DomainError(
                ErrorCode.PLEDGE_LOCKED,
                "production has started: this pledge can no longer be lowered",
                "quantity",
            )
        if row is None:
            row = await Pledge.create(idea_id=idea.id, member_id=member.id, quantity=quantity)
        else:
            row.quantity = quantity
            await row.save(update_fields=["quantity", "updated_at"])
        new_counters = await counters.bump(
            idea.id,
            idea.created_at,
            contest=campaign.mode == CampaignMode.CONTEST,
            pledgers=(quantity > 0) - (old > 0),
            pledged_quantity=quantity - old,
        )
        await events.record(
            EventType.IDEA_PLEDGED,
            {
                "pledgeId": row.id,
                "ideaId": idea.id,
                "campaignId": campaign.id,
                "memberId": member.id,
                "authorId": idea.author_id,
                "previous": old,
                "quantity": quantity,
            },
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=member.id,
        )
        crossed: list[Threshold] = []
        if quantity > old:
            crossed = await record_crossings(idea, campaign, new_counters, PLEDGE_METRICS)
    return counters.Outcome(idea, new_counters, quantity, changed=True, crossed=crossed)
