"""Scores (CONTEST campaigns): 1-5 per member and idea, changeable."""

from __future__ import annotations

from engine import admission, counters, events
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.models.campaigns import CampaignMode
from engine.models.interactions import Score
from engine.models.members import Member
from engine.thresholds import SCORE_METRICS, record_crossings

MIN_SCORE, MAX_SCORE = 1, 5


async def score_idea(member: Member, idea_id: int, value: int) -> counters.Outcome:
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise DomainError(ErrorCode.OUT_OF_RANGE, "a score is a whole number from 1 to 5", "score")
    async with events.unit_of_work():
        idea, campaign = await admission.admit(member, idea_id, retract=False)
        if campaign.mode != CampaignMode.CONTEST:
            raise DomainError(
                ErrorCode.WRONG_CAMPAIGN_MODE,
                "scores are for contests: vote on this idea instead",
                "ideaId",
            )
        if idea.author_id == member.id:
            raise DomainError(ErrorCode.SELF_VOTE, "you cannot score your own idea", "ideaId")
        score = await Score.filter(idea_id=idea.id, member_id=member.id).select_for_update().first()
        old = score.value if score else 0
        if old == value:
            return counters.Outcome(idea, counters.counters_of(idea), value, changed=False)
        if score is None:
            score = await Score.create(idea_id=idea.id, member_id=member.id, value=value)
        else:
            score.value = value
            await score.save(update_fields=["value", "updated_at"])
        new_counters = await counters.bump(
            idea.id,
            idea.created_at,
            contest=True,
            score_sum=value - old,
            score_count=1 if old == 0 else 0,
        )
        await events.record(
            EventType.IDEA_SCORED,
            {
                "scoreId": score.id,
                "ideaId": idea.id,
                "campaignId": campaign.id,
                "memberId": member.id,
                "authorId": idea.author_id,
                "previous": old,
                "value": value,
                "ideaTitle": idea.title,
            },
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=member.id,
        )
        crossed = await record_crossings(idea, campaign, new_counters, SCORE_METRICS)
    return counters.Outcome(idea, new_counters, value, changed=True, crossed=crossed)
