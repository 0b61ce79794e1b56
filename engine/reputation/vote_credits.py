"""Points from votes: each vote's ledger follows its latest version, whatever order events arrive in.

Ordering. Events of one vote carry ``version`` (bumped on every cast, change and retraction) and the
value at that version. Rather than replaying every version in order (which would mean deferring an
early-arriving later version and waiting for the gap to fill), the ledger for a vote is *derived from
its latest known state*: a ``VoteCredit`` row keeps the highest version applied and the points booked
for the author and the voter. An event with a higher version moves the booked points to what the rules
want for its value (an "undo" entry for what was booked, then the new entry); an event with an equal
or lower version is stale and books nothing. Intermediate versions that are skipped never mattered:
the points of a vote depend only on its current value. Replays are no-ops for the same reason, and
the source keys ``vote:<id>:v<version>:<side>[:undo]`` are unique per tenant as a second guard.

Stale events still count for what is about the vote's history rather than its state: the first-vote
badge and the time the vote was first cast (serial-voting detection).

Cap. Points from votes (upvotes and downvotes received, votes cast, and their reversals) are summed
per member and UTC day of the activity; a new positive booking only takes what keeps that day's net
at or under ``daily_vote_cap`` and the entry records what was withheld. Reversals always book, and
reverse exactly what was booked, so a capped vote that is retracted gives back only what it gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.models.events import DomainEvent
from engine.models.members import Member
from engine.reputation import badges, serial
from engine.reputation.credits import credits
from engine.reputation.ledger import Booking, booking, current_batch, read
from engine.reputation.models import Reason, VoteCredit
from engine.reputation.rules import Rules
from engine.sql import Statement
from engine.tenancy import current_tenant_id

SIDES = ("author", "voter")


@dataclass(frozen=True)
class VoteActivity:
    vote_id: int
    version: int
    value: int
    voter_id: int
    author_id: int
    idea_id: int
    campaign_id: int | None
    subject: str
    upvotes: int | None

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> VoteActivity:
        return cls(
            vote_id=int(data["voteId"]),
            version=int(data["version"]),
            value=int(data["value"]),
            # Events recorded before the payloads were unified name the voter "voterId".
            voter_id=int(data["memberId"] if "memberId" in data else data["voterId"]),
            author_id=int(data["authorId"]),
            idea_id=int(data["ideaId"]),
            campaign_id=int(data["campaignId"]) if data.get("campaignId") else None,
            subject=str(data.get("ideaTitle") or ""),
            upvotes=_upvotes(data),
        )


def _upvotes(data: dict[str, Any]) -> int | None:
    upvotes = (data.get("counts") or {}).get("upvotes", data.get("upvotes"))
    return int(upvotes) if upvotes is not None else None


def target(credit: VoteCredit, side: str, rules: Rules) -> int:
    """What the rules want for this side of the vote in its current state (a merge may hold it)."""
    if credit.value == 0 or credit.serial or credit.voter_id == credit.author_id:
        return 0
    if side == "voter":
        return rules.vote_cast
    return rules.upvote_received if credit.value > 0 else rules.downvote_received


async def members_of(events: Sequence[DomainEvent]) -> set[int]:
    """Whom a batch of vote events books for: each voter and the author each vote was first
    credited to (read unlocked: a credit's author never changes once written)."""
    acts = [VoteActivity.from_event(e.data) for e in events]
    if not acts:
        return set()
    rows = await read(
        _CREDITED, tenant=current_tenant_id(), votes=sorted({a.vote_id for a in acts})
    )
    credited = {int(row[0]): int(row[1]) for row in rows}
    return {m for a in acts for m in (a.voter_id, credited.get(a.vote_id, a.author_id))}


_CREDITED = Statement(
    lambda d: d.probe(
        ":votes::bigint[]",
        "SELECT vote_id, author_id FROM reputation_vote_credit WHERE tenant_id = :tenant",
        "vote_id",
    )
)


async def prepare(book: Booking, events: Sequence[DomainEvent]) -> None:
    """Load what the batch's vote events will read, a statement each (the members are locked):
    their credits and the other credits of the same voters and authors around that time, the
    ledger keys and badges they could write, and the members' vote points of those days."""
    acts = [VoteActivity.from_event(e.data) for e in events]
    if not acts:
        return
    store = credits(book)
    await store.load_votes(a.vote_id for a in acts)
    # Only the casts detection will look at need their peers (serial.settled).
    looking = [
        (act, event)
        for act, event in zip(acts, events, strict=True)
        if act.value != 0 and not serial.settled(store.known(act.vote_id), event.occurred_at)
    ]
    if looking:
        await store.load(
            [act.vote_id for act, _ in looking],
            {act.voter_id for act, _ in looking},
            {act.author_id for act, _ in looking},
            min(event.occurred_at for _, event in looking),
            max(event.occurred_at for _, event in looking),
            serial.WINDOW,
        )
    await book.know_keys(
        [
            f"vote:{a.vote_id}:v{a.version}:{side}{undo}"
            for a in acts
            for side in SIDES
            for undo in ("", ":undo")
        ]
        # What serial-voting detection would reverse of these votes.
        + [f"serial:{a.vote_id}:{side}" for a in acts for side in SIDES]
    )
    await book.know_badges(
        key
        for a in acts
        for key in (f"badge:first-vote:{a.voter_id}", f"badge:popular-idea:{a.idea_id}")
    )
    await book.know_vote_points(book.members, [e.occurred_at for e in events])
    await serial.prepare(book, [event for _, event in looking])


async def apply_vote(event: DomainEvent, rules: Rules) -> None:
    act = VoteActivity.from_event(event.data)
    # Points stay with the author the vote was first credited to (a merge may move the vote).
    shared = current_batch()
    if shared is not None:
        known = await credits(shared).get(act.vote_id)
        author_id = known.author_id if known is not None else act.author_id
    else:
        credited: list[Any] = await VoteCredit.filter(vote_id=act.vote_id).values_list(
            "author_id", flat=True
        )
        author_id = int(credited[0]) if credited else act.author_id
    async with booking(rules, {act.voter_id, author_id}, event, event.occurred_at) as book:
        store = credits(book)
        credit = await store.get(act.vote_id)
        if credit is None:
            credit = VoteCredit(
                tenant_id=event.tenant_id,
                vote_id=act.vote_id,
                voter_id=act.voter_id,
                author_id=act.author_id,
                idea_id=act.idea_id,
                campaign_id=act.campaign_id,
            )
        fresh = act.version > credit.version
        if fresh:
            credit.version, credit.value = act.version, act.value
        settled = serial.settled(credit, event.occurred_at)
        if act.value != 0 and (credit.cast_at is None or event.occurred_at < credit.cast_at):
            credit.cast_at = event.occurred_at
        store.save(credit)
        if act.value != 0:
            if not settled:
                await serial.detect(book, credit, event, act.subject)
            voter = book.members[act.voter_id]
            await book.award(
                voter,
                badges.FIRST_VOTE,
                f"badge:first-vote:{voter.id}",
                awarded_at=event.occurred_at,
            )
        if fresh:
            await settle(book, credit, act.subject)
        await _popular_idea_badge(book, act, event)


async def settle(book: Booking, credit: VoteCredit, subject: str) -> None:
    """Move both sides' booked points to what the rules want for the credit's applied version."""
    for side in SIDES:
        wanted = target(credit, side, book.rules)
        if wanted == getattr(credit, f"{side}_target"):
            continue
        member_id = credit.author_id if side == "author" else credit.voter_id
        if credit.merge_duplicate:
            # Held back by a merge (a late event): work out what it would pay, book nothing.
            held = wanted
            if wanted > 0:
                held = min(wanted, await book.vote_room(member_id))
            setattr(credit, f"{side}_target", wanted)
            setattr(credit, f"{side}_held", held)
            continue
        booked = getattr(credit, f"{side}_points")
        key = f"vote:{credit.vote_id}:v{credit.version}:{side}"
        common: dict[str, Any] = {
            "subject": subject,
            "idea_id": credit.idea_id,
            "campaign_id": credit.campaign_id,
            "actor_id": credit.voter_id if side == "author" else None,
            "vote_earned": True,
        }
        if booked:
            await book.add(member_id, -booked, _withdrawn(side, booked), f"{key}:undo", **common)
        points = withheld = 0
        if wanted > 0:
            points = min(wanted, await book.vote_room(member_id))
            withheld = wanted - points
        elif wanted < 0:
            points = wanted
        if wanted:
            await book.add(
                member_id, points, _received(side, wanted), key, withheld=withheld, **common
            )
        setattr(credit, f"{side}_target", wanted)
        setattr(credit, f"{side}_points", points)


def _received(side: str, points: int) -> Reason:
    if side == "voter":
        return Reason.VOTE_CAST
    return Reason.UPVOTE_RECEIVED if points > 0 else Reason.DOWNVOTE_RECEIVED


def _withdrawn(side: str, booked: int) -> Reason:
    if side == "voter":
        return Reason.VOTE_CAST_WITHDRAWN
    return Reason.UPVOTE_WITHDRAWN if booked > 0 else Reason.DOWNVOTE_WITHDRAWN


async def _popular_idea_badge(book: Booking, act: VoteActivity, event: DomainEvent) -> None:
    """Once per idea, when an event shows it at N upvotes (later retractions do not take it back)."""
    if act.upvotes is None or act.upvotes < book.rules.idea_votes_badge:
        return
    key = f"badge:popular-idea:{act.idea_id}"
    if await book.holds_badge(key):
        return
    author = book.members.get(act.author_id) or await Member.get(id=act.author_id)
    spec = badges.BadgeSpec(
        badges.POPULAR_IDEA.code,
        badges.POPULAR_IDEA.name,
        badges.POPULAR_IDEA.description.format(n=book.rules.idea_votes_badge),
    )
    await book.award(
        author,
        spec,
        key,
        idea_id=act.idea_id,
        campaign_id=act.campaign_id,
        awarded_at=event.occurred_at,
    )
