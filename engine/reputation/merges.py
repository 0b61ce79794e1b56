"""Merges: a member who voted on both ideas is paid for one of those votes, not two.

engine.merges copies each supporter's vote from the source idea onto the target without recording
vote events, so the copies earn nobody anything: points stay with the votes they were earned by.
What remains is the member who had voted on *both* ideas: the merge counts them once on the target,
so their vote on the source ("a duplicate") stops paying, on both sides, while the merge stands, and
pays again after an unmerge: the points are held on the vote's credit and booked back exactly, so
a merge and its unmerge change nothing, in whatever order their events are handled. A vote event
handled while its vote is held (it arrived late) works out what it would pay, and holds that.

Duplicates are derived from rows that are stable while the merge stands: the source's votes (a
merged idea takes no votes) minus the voters the merge copied (``MergeTransfer``) minus the target's
author (whose vote is never copied). A duplicate whose vote event was not processed yet gets a
placeholder credit, so the late event holds instead of booking. Both handlers first lock the
``IdeaMerge`` row, which the unmerge operation also writes: a merge handled after its unmerge does
nothing, and an unmerge handled after its merge sees every duplicate the merge marked (``merge_id``).
"""

from __future__ import annotations

from typing import Any

from engine.events import unit_of_work
from engine.models.events import DomainEvent
from engine.models.ideas import Idea
from engine.models.interactions import Vote
from engine.models.merges import IdeaMerge, MergeTransfer, TransferKind
from engine.reputation.awards import pk_of
from engine.reputation.ledger import Booking, booking
from engine.reputation.models import Reason, VoteCredit
from engine.reputation.rules import Rules
from engine.reputation.vote_credits import SIDES


async def idea_merged(event: DomainEvent, rules: Rules) -> None:
    merge_id = int(event.data["mergeId"])
    source_id, source_author = (
        pk_of(event.data["idea"]["id"]),
        pk_of(event.data["idea"]["author"]["id"]),
    )
    target_author = pk_of(event.data["into"]["author"]["id"])
    async with unit_of_work():
        merge = await IdeaMerge.filter(id=merge_id).select_for_update().first()
        if merge is None or merge.undone_at is not None:
            return  # already unmerged: the unmerge's handler has nothing to restore either
        copied = await MergeTransfer.filter(merge_id=merge_id, kind=TransferKind.VOTE).values_list(
            "member_id", flat=True
        )
        duplicates = (
            await Vote.filter(idea_id=source_id)
            .exclude(value=0)
            .exclude(member_id__in=[*copied, target_author])
            .order_by("id")
            .values_list("id", "member_id")
        )
        if not duplicates:
            return
        voters = {int(member_id) for _, member_id in duplicates}
        async with booking(rules, {source_author, *voters}, event, event.occurred_at) as book:
            credits = {
                c.vote_id: c
                for c in await VoteCredit.filter(vote_id__in=[int(v) for v, _ in duplicates])
            }
            for vote_id, voter_id in duplicates:
                credit = credits.get(int(vote_id)) or VoteCredit(
                    vote_id=int(vote_id),
                    voter_id=int(voter_id),
                    author_id=source_author,
                    idea_id=source_id,
                    campaign_id=event.campaign_id,
                )
                if not credit.merge_duplicate:
                    credit.merge_duplicate = True
                    await _rebook(book, credit, event, Reason.MERGE_DUPLICATE_REVERSED, "merge")
                # Marked by an earlier merge whose unmerge is not handled yet: this merge owns it.
                credit.merge_id = merge_id
                await credit.save()


async def idea_unmerged(event: DomainEvent, rules: Rules) -> None:
    merge_id = int(event.data["mergeId"])
    async with unit_of_work():
        await IdeaMerge.filter(id=merge_id).select_for_update().first()
        marked = await VoteCredit.filter(merge_id=merge_id, merge_duplicate=True).values_list(
            "voter_id", "author_id"
        )
        if not marked:
            return
        members = {int(m) for pair in marked for m in pair}
        async with booking(rules, members, event, event.occurred_at) as book:
            for credit in await VoteCredit.filter(merge_id=merge_id, merge_duplicate=True).order_by(
                "vote_id"
            ):
                credit.merge_duplicate = False
                await _rebook(book, credit, event, Reason.MERGE_DUPLICATE_RESTORED, "unmerge")
                await credit.save()


async def _rebook(
    book: Booking, credit: VoteCredit, event: DomainEvent, reason: Reason, step: str
) -> None:
    """Hold back what the vote books (a merge), or book again exactly what was held (an unmerge)."""
    subject: list[Any] = await Idea.filter(id=credit.idea_id).values_list("title", flat=True)
    for side in SIDES:
        member_id = credit.author_id if side == "author" else credit.voter_id
        booked, held = getattr(credit, f"{side}_points"), getattr(credit, f"{side}_held")
        delta = -booked if credit.merge_duplicate else held
        if delta:
            await book.add(
                member_id,
                delta,
                reason,
                f"{step}:{event.id}:{credit.vote_id}:{side}",
                subject=subject[0] if subject else "",
                idea_id=credit.idea_id,
                campaign_id=credit.campaign_id,
                actor_id=credit.voter_id if side == "author" else None,
                vote_earned=True,
            )
        setattr(credit, f"{side}_points", booked + delta)
        setattr(credit, f"{side}_held", booked if credit.merge_duplicate else 0)
