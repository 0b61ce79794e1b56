"""Whether a vote or a score may be cast: the campaign's window, the idea's state, the budget.

One small module the interaction paths call, so the rules read in one place (docs/architecture.md,
"Governance"):

- New votes and scores need an open campaign, an eligible member and an idea open to voting:
  visible, not merged, not frozen, not DECLINED or SHIPPED (``IDEA_CLOSED``).
- A member can always retract a vote they hold while the campaign is open, whatever became of the
  idea (hidden, frozen, declined, shipped) and of their eligibility. A merged idea's votes moved to
  its target: they are retracted there.
- A vote budget counts only votes on ideas still open to voting: a declined, shipped, merged or
  hidden idea gives its slot back.
- Closing a campaign waits for votes in flight, and votes wait for a close in flight
  (engine.campaign_gate).
"""

from __future__ import annotations

from engine.counters import Guard
from engine.eligibility import ensure_open
from engine.errors import DomainError, ErrorCode
from engine.ideas import ensure_interactable
from engine.models.campaigns import Campaign, Participation
from engine.models.ideas import Idea, IdeaStatus
from engine.models.interactions import Vote
from engine.models.members import Member

# Ideas the brand has decided on: they keep their votes but take no new ones.
DECIDED = frozenset({IdeaStatus.DECLINED, IdeaStatus.SHIPPED})


async def admit_action(
    member: Member, idea: Idea, campaign: Campaign, *, retract: bool
) -> tuple[Campaign, Guard]:
    """For engine.interactions (votes and scores): the rules above for an idea read unlocked.

    Returns the campaign and the guard the counter update re-checks under the idea's lock: the
    campaign still open, as that statement reads it behind the campaign gate the first read took
    (a close in flight finished first, and one that starts later waits for this action); a retract
    holds on a hidden, frozen or decided idea; a new value needs the idea still open and undecided.
    """
    if retract:
        if idea.merged_into_id is not None:
            raise DomainError(
                ErrorCode.IDEA_CLOSED,
                "this idea was merged into another: your vote moved there; retract it there",
                "ideaId",
            )
        ensure_open(campaign, "ideaId")
        return campaign, Guard(open=False, hidden_ok=True, campaign_open=True)
    ensure_interactable(member, idea, campaign)
    if idea.status in DECIDED:
        raise DomainError(
            ErrorCode.IDEA_CLOSED,
            f"this idea is {idea.status.value.lower()}: it takes no new votes",
            "ideaId",
        )
    return campaign, Guard(statuses_not=DECIDED, campaign_open=True)


async def check_budget(campaign: Campaign, member: Member) -> None:
    """Lock the member's participation row, then count: two votes at once cannot both squeeze in.

    Called only for a new vote (none held on this idea). Votes on ideas no longer open to voting do
    not count, so their slots come back without any bookkeeping to drift.
    """
    if campaign.vote_budget is None:
        return
    await Participation.get_or_create(campaign_id=campaign.id, member_id=member.id)
    # NO KEY UPDATE, taken after the vote row and before the idea (docs/architecture.md,
    # "Lock order").
    await Participation.filter(campaign_id=campaign.id, member_id=member.id).select_for_update(
        no_key=True
    )
    active = (
        await Vote.filter(
            member_id=member.id,
            idea__campaign_id=campaign.id,
            # Votes on merged ideas were copied to their target: count each once.
            idea__merged_into_id=None,
            idea__hidden=False,
        )
        .exclude(value=0)
        .exclude(idea__status__in=list(DECIDED))
        .count()
    )
    if active >= campaign.vote_budget:
        raise DomainError(
            ErrorCode.VOTE_BUDGET_EXHAUSTED,
            f"you have used all {campaign.vote_budget} votes in this campaign; retract one first",
            "ideaId",
        )
