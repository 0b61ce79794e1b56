"""Merges: a member who voted on both ideas earns points for one of those votes, not two.

Points stay with the vote they were earned by (and so with the author first credited): moving votes
to the target idea books nothing new for the target's author. Only the duplicates count: the
source idea's votes whose voter also voted on the target, listed by the merge event as
``duplicateVoteIds``. Their points are reversed on both sides while the merge stands and booked
again by the unmerge. Keys carry the merge or unmerge event's id, so merging, unmerging and merging
again books each step once, and a replayed event finds the credits already in the wanted state.
"""

from __future__ import annotations

from engine.models.events import DomainEvent
from engine.models.ideas import Idea
from engine.reputation.ledger import booking
from engine.reputation.models import Reason, VoteCredit
from engine.reputation.rules import Rules
from engine.reputation.vote_credits import SIDES, target


async def idea_merged(event: DomainEvent, rules: Rules) -> None:
    await _set_duplicates(event, rules, duplicate=True)


async def idea_unmerged(event: DomainEvent, rules: Rules) -> None:
    await _set_duplicates(event, rules, duplicate=False)


async def _set_duplicates(event: DomainEvent, rules: Rules, *, duplicate: bool) -> None:
    vote_ids = [int(v) for v in event.data.get("duplicateVoteIds") or []]
    if not vote_ids:
        return
    found = await VoteCredit.filter(vote_id__in=vote_ids).values_list("voter_id", "author_id")
    member_ids = {int(m) for pair in found for m in pair}
    async with booking(rules, member_ids, event, event.occurred_at) as book:
        credits = await VoteCredit.filter(vote_id__in=vote_ids).order_by("vote_id")
        titles = dict(
            await Idea.filter(id__in=[c.idea_id for c in credits]).values_list("id", "title")
        )
        for credit in credits:
            if credit.merge_duplicate == duplicate:
                continue  # a replay, or a vote already in the wanted state
            credit.merge_duplicate = duplicate
            for side in SIDES:
                member_id = credit.author_id if side == "author" else credit.voter_id
                booked = getattr(credit, f"{side}_points")
                wanted = target(credit, side, rules)
                delta = wanted - booked
                if delta:
                    await book.add(
                        member_id,
                        delta,
                        Reason.MERGE_DUPLICATE_REVERSED
                        if duplicate
                        else Reason.MERGE_DUPLICATE_RESTORED,
                        f"{'merge' if duplicate else 'unmerge'}:{event.id}:{credit.vote_id}:{side}",
                        subject=titles.get(credit.idea_id, ""),
                        idea_id=credit.idea_id,
                        campaign_id=credit.campaign_id,
                        actor_id=credit.voter_id if side == "author" else None,
                        vote_earned=True,
                    )
                setattr(credit, f"{side}_target", wanted)
                setattr(credit, f"{side}_points", wanted)
            await credit.save()
