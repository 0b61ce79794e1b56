"""Serial voting: one member voting on one author's ideas more than K times within 24 hours.

Counted per vote (a vote cast, changed and retracted is one vote), by the time it was first cast UP
or DOWN. When any 24-hour window holding the vote being processed holds more than K votes of the
same voter on the same author, every vote in that window is marked serial for good: its points are
reversed on both sides, the votes leave the idea's counters (engine.vote_reversal), and an audit row
records what was found. Checking every window that holds
the vote (not just the 24 hours before it) makes the result independent of the order events are
processed in: whichever vote of an offending group is handled last sees the whole group.
Credits are read and written through the booking's store (engine.reputation.credits), so the
votes of one batch see each other before any is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine import vote_reversal
from engine.models.events import DomainEvent
from engine.models.ideas import Idea
from engine.reputation.credits import credits
from engine.reputation.ledger import Booking
from engine.reputation.models import AuditKind, Reason, ReputationAudit, VoteCredit

WINDOW = timedelta(hours=24)


async def prepare(book: Booking, events: list[DomainEvent]) -> None:
    """Which audits the batch's events already wrote (a replay), one statement for all."""
    found: list[Any] = await ReputationAudit.filter(
        event_id__in=[e.id for e in events]
    ).values_list("source_key", flat=True)
    book.state["audits"] = ({e.id for e in events}, {str(k) for k in found})


async def detect(book: Booking, credit: VoteCredit, event: DomainEvent, subject: str = "") -> None:
    """Mark ``credit``'s offending group serial and reverse its points (members already locked).
    ``subject`` is the title of the credit's idea as the event saw it."""
    cast_at = credit.cast_at
    if cast_at is None or credit.voter_id == credit.author_id:
        return
    limit = book.rules.serial_vote_limit
    store = credits(book)
    peers = await store.peers(credit.voter_id, credit.author_id, cast_at - WINDOW, cast_at + WINDOW)
    if len(peers) <= limit:
        return
    group: dict[int, VoteCredit] = {}
    for start in peers:
        assert start.cast_at is not None
        if not cast_at - WINDOW <= start.cast_at <= cast_at:
            continue
        inside = [
            p for p in peers if p.cast_at and start.cast_at <= p.cast_at <= start.cast_at + WINDOW
        ]
        if len(inside) > limit:
            group.update((p.vote_id, p) for p in inside)
    newly = [p for p in group.values() if not p.serial]
    if not newly:
        return
    titles: dict[int, str] = {credit.idea_id: subject} if subject else {}
    others = {p.idea_id for p in newly} - set(titles)
    if others:
        titles.update(await Idea.filter(id__in=sorted(others)).values_list("id", "title"))
    reversed_author = reversed_voter = 0
    for p in sorted(newly, key=lambda c: c.vote_id):
        for side, member_id in (("author", p.author_id), ("voter", p.voter_id)):
            booked = getattr(p, f"{side}_points")
            if booked:
                await book.add(
                    member_id,
                    -booked,
                    Reason.SERIAL_VOTING_REVERSED,
                    f"serial:{p.vote_id}:{side}",
                    subject=titles.get(p.idea_id, ""),
                    idea_id=p.idea_id,
                    campaign_id=p.campaign_id,
                    actor_id=p.voter_id if side == "author" else None,
                    vote_earned=True,
                )
            if side == "author":
                reversed_author += booked
            else:
                reversed_voter += booked
            setattr(p, f"{side}_points", 0)
            setattr(p, f"{side}_target", 0)
            setattr(p, f"{side}_held", 0)
        p.serial = True
        store.save(p)
    times = [p.cast_at for p in group.values() if p.cast_at is not None]
    key = f"serial:{event.id}:{credit.voter_id}:{credit.author_id}"
    checked, held = book.state.get("audits") or (set(), set())
    audit = None
    if event.id not in checked or key in held:
        audit = await ReputationAudit.filter(source_key=key).first()
    if audit is None:
        audit = await ReputationAudit.create(
            kind=AuditKind.SERIAL_VOTING,
            source_key=key,
            voter_id=credit.voter_id,
            author_id=credit.author_id,
            vote_ids=sorted(p.vote_id for p in group.values()),
            points_reversed=reversed_author,
            window_start=min(times),
            window_end=max(times),
            event_id=event.id,
            detail=(
                f"{len(group)} votes by member {credit.voter_id} on ideas of member "
                f"{credit.author_id} within 24 h (limit {limit}); {len(newly)} newly reversed: "
                f"{reversed_author} points of the author, {reversed_voter} of the voter"
            ),
        )
    # The votes themselves stop counting too, not only their points (engine.vote_reversal), when
    # the booking ends: the ideas are locked once for every group the batch found, last.
    discounts(book).append((audit.id, [p.vote_id for p in newly]))


def discounts(book: Booking) -> list[tuple[int, list[int]]]:
    """(audit id, vote ids) found by this booking, discounted together when it finishes."""
    found = book.state.get("discounts")
    if found is None:
        found = book.state["discounts"] = []

        async def flush() -> None:
            await vote_reversal.discount_many(found)

        book.flushes.append(flush)
    assert isinstance(found, list)
    return found
