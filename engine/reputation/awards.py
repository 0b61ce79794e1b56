"""Points and badges for one-off activity: ideas submitted, comments, scores, status milestones and
campaign wins.

Each is keyed by what it rewards (the idea, the comment, the score, the campaign and idea), not by the
event, so a milestone reached twice (an idea accepted, moved back, accepted again) pays once, and the order events arrive
in does not matter. Milestones are not taken back when an idea's status later moves backwards: the
brand did accept it. Campaign wins are the exception: a reopened campaign was not won, so reopening
takes the rewards of its earlier closes back, and the next close pays its own winners.
"""

from __future__ import annotations

import base64
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from engine.events import EventType
from engine.models.events import DomainEvent
from engine.models.ideas import IdeaStatus
from engine.reputation import badges
from engine.reputation.ledger import booking
from engine.reputation.models import MemberBadge, Reason, ReputationEntry
from engine.reputation.rules import Rules

# Statuses at or past acceptance: reaching any of them earns the "accepted" points once.
_ACCEPTED = frozenset(
    {IdeaStatus.ACCEPTED.value, IdeaStatus.IN_PROGRESS.value, IdeaStatus.SHIPPED.value}
)


def pk_of(global_id: str) -> int:
    """The primary key inside an event payload's global id ("Type:pk", base64)."""
    return int(base64.b64decode(global_id).decode().split(":", 1)[1])


async def idea_submitted(event: DomainEvent, rules: Rules) -> None:
    idea: dict[str, Any] = event.data["idea"]
    author_id, idea_id = pk_of(idea["author"]["id"]), pk_of(idea["id"])
    async with booking(rules, [author_id], event, event.occurred_at) as book:
        if rules.idea_submitted:
            await book.add(
                author_id,
                rules.idea_submitted,
                Reason.IDEA_SUBMITTED,
                f"idea:{idea_id}:submitted",
                subject=idea["title"],
                idea_id=idea_id,
                campaign_id=event.campaign_id,
            )
        await badges.award(
            book.members[author_id],
            badges.FIRST_IDEA,
            f"badge:first-idea:{author_id}",
            idea_id=idea_id,
            campaign_id=event.campaign_id,
            awarded_at=event.occurred_at,
        )


async def comment_created(event: DomainEvent, rules: Rules) -> None:
    data = event.data
    author_id = int(data["authorId"])
    if not rules.comment:
        return
    async with booking(rules, [author_id], event, event.occurred_at) as book:
        await book.add(
            author_id,
            rules.comment,
            Reason.COMMENT,
            f"comment:{int(data['commentId'])}",
            subject=str(data.get("ideaTitle") or ""),
            idea_id=int(data["ideaId"]),
            campaign_id=event.campaign_id,
        )


async def idea_scored(event: DomainEvent, rules: Rules) -> None:
    """Scoring in a contest is casting a vote: +vote_cast once per score, under the daily cap."""
    data = event.data
    scorer_id, author_id = int(data["memberId"]), int(data["authorId"])
    if scorer_id == author_id or not rules.vote_cast:
        return
    async with booking(rules, [scorer_id], event, event.occurred_at) as book:
        points = min(rules.vote_cast, await book.vote_room(scorer_id))
        await book.add(
            scorer_id,
            points,
            Reason.VOTE_CAST,
            f"score:{int(data['scoreId'])}:cast",
            subject=str(data.get("ideaTitle") or ""),
            idea_id=int(data["ideaId"]),
            campaign_id=event.campaign_id,
            vote_earned=True,
            withheld=rules.vote_cast - points,
        )
        await badges.award(
            book.members[scorer_id],
            badges.FIRST_VOTE,
            f"badge:first-vote:{scorer_id}",
            awarded_at=event.occurred_at,
        )


async def idea_status_changed(event: DomainEvent, rules: Rules) -> None:
    status = event.data["status"]
    if status not in _ACCEPTED:
        return
    idea: dict[str, Any] = event.data["idea"]
    author_id, idea_id = pk_of(idea["author"]["id"]), pk_of(idea["id"])
    milestones = [(Reason.IDEA_ACCEPTED, rules.idea_accepted, "accepted", badges.IDEA_ACCEPTED)]
    if status == IdeaStatus.SHIPPED.value:
        milestones.append((Reason.IDEA_SHIPPED, rules.idea_shipped, "shipped", badges.IDEA_SHIPPED))
    async with booking(rules, [author_id], event, event.occurred_at) as book:
        for reason, points, name, spec in milestones:
            if points:
                await book.add(
                    author_id,
                    points,
                    reason,
                    f"idea:{idea_id}:{name}",
                    subject=idea["title"],
                    idea_id=idea_id,
                    campaign_id=event.campaign_id,
                )
            await badges.award(
                book.members[author_id],
                spec,
                f"badge:idea-{name}:{idea_id}",
                idea_id=idea_id,
                campaign_id=event.campaign_id,
                awarded_at=event.occurred_at,
            )


def _winners_of(event: DomainEvent) -> list[tuple[int, int, str]]:
    return [
        (pk_of(w["author"]["id"]), pk_of(w["idea"]["id"]), w["idea"]["title"])
        for w in event.data.get("winners", [])
    ]


def _reopened_after(event: DomainEvent) -> QuerySet[DomainEvent]:
    return DomainEvent.filter(
        type=EventType.CAMPAIGN_REOPENED, campaign_id=event.campaign_id, id__gt=event.id
    )


async def campaign_closed(event: DomainEvent, rules: Rules) -> None:
    """Winner rewards, once per close (keyed by the close's event).

    A close the campaign was reopened after pays nothing: the reopening took its rewards back
    (:func:`campaign_reopened`), whichever of the two events is handled first. Both lock the same
    winners, so they never interleave.
    """
    winners = _winners_of(event)
    if not winners:
        return
    campaign_id = event.campaign_id
    async with booking(rules, [a for a, _, _ in winners], event, event.occurred_at) as book:
        if await _reopened_after(event).exists():
            return
        for author_id, idea_id, title in winners:
            if rules.campaign_winner:
                await book.add(
                    author_id,
                    rules.campaign_winner,
                    Reason.CAMPAIGN_WINNER,
                    f"campaign:{campaign_id}:closed:{event.id}:winner:{idea_id}",
                    subject=title,
                    idea_id=idea_id,
                    campaign_id=campaign_id,
                )
            await badges.award(
                book.members[author_id],
                badges.CAMPAIGN_WINNER,
                f"badge:campaign-winner:{campaign_id}:{event.id}:{idea_id}",
                idea_id=idea_id,
                campaign_id=campaign_id,
                awarded_at=event.occurred_at,
            )


async def campaign_reopened(event: DomainEvent, rules: Rules) -> None:
    """Reopening a closed campaign takes back the rewards of every close before it.

    The points are reversed by ledger entries (the original stays, so the history reads true) and
    the winner badges of those closes are removed. A later close computes and pays winners anew.
    What was paid is read from the ledger (processed events are purged after a while); the close
    events still stored add the winners whose payment may be in flight, so both are locked.
    """
    campaign_id = event.campaign_id
    closes = await DomainEvent.filter(
        type=EventType.CAMPAIGN_CLOSED, campaign_id=campaign_id, id__lt=event.id
    ).order_by("id")
    winners = {close.id: _winners_of(close) for close in closes}
    paid_before = ReputationEntry.filter(
        reason=Reason.CAMPAIGN_WINNER, campaign_id=campaign_id
    ).filter(Q(event_id__lt=event.id) | Q(event_id=None))
    authors = {author for rows in winners.values() for author, _, _ in rows}
    authors |= {int(m) for m in await paid_before.values_list("member_id", flat=True)}  # type: ignore[call-overload]
    if not authors:
        return
    async with booking(rules, authors, event, event.occurred_at) as book:
        paid = await paid_before.filter(member_id__in=sorted(authors))
        for entry in paid:
            await book.add(
                entry.member_id,
                -entry.points,
                Reason.CAMPAIGN_WINNER_REVERSED,
                f"{entry.source_key}:reopened",
                subject=entry.subject,
                idea_id=entry.idea_id,
                campaign_id=campaign_id,
            )
        won = {(close_id, idea_id) for close_id, rows in winners.items() for _, idea_id, _ in rows}
        won |= {(e.event_id, e.idea_id) for e in paid if e.idea_id is not None}
        keys = [
            key
            for close_id, idea_id in won
            for key in (
                f"badge:campaign-winner:{campaign_id}:{close_id}:{idea_id}",
                f"badge:campaign-winner:{campaign_id}:{idea_id}",  # before closes were keyed
            )
        ]
        await MemberBadge.filter(source_key__in=keys).delete()
