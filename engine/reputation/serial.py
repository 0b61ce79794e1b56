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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from engine import vote_reversal
from engine.clock import utcnow
from engine.models.events import DomainEvent
from engine.reputation.credits import Peer, credits
from engine.reputation.ledger import Booking, connection, read
from engine.reputation.models import AuditKind, Reason, ReputationAudit, VoteCredit
from engine.sql import Params, Statement
from engine.tenancy import current_tenant_id

WINDOW = timedelta(hours=24)
SIDES = ("author", "voter")


async def prepare(book: Booking, events: list[DomainEvent]) -> None:
    """Which audits the batch's events already wrote (a replay), one statement for all, by the
    source keys :func:`detect` would give them (the credits are in the store already)."""
    store = credits(book)
    keys = []
    for event in events:
        act = event.data
        credit = store.known(int(act["voteId"]))
        # Events recorded before the payloads were unified name the voter "voterId".
        voter = (
            credit.voter_id if credit else int(act["memberId" if "memberId" in act else "voterId"])
        )
        author = credit.author_id if credit else int(act["authorId"])
        keys.append(_audit_key(event.id, voter, author))
    rows = await read(_HELD_AUDITS, tenant=current_tenant_id(), keys=sorted(set(keys)))
    book.state["audits"] = (set(keys), {str(row[1]): int(row[0]) for row in rows})


def settled(credit: VoteCredit | None, occurred_at: datetime) -> bool:
    """Whether detecting on a cast of this vote at ``occurred_at`` can find nothing new: its credit
    is serial already (for good: a restore gives the votes back to the counters, not the points)
    and this cast does not move its first cast earlier. Every window holding the vote was looked
    at when its group was found, and a vote cast since into such a window was looked at with its
    own cast, which checks every window holding it; the same members' bookings run one after the
    other (ledger.lock_members), so none of them missed another's credits. A serial voter's
    clicks then read no peers: in the vote bench, where every voter is serial, that read was a
    worker's largest statement."""
    return (
        credit is not None
        and credit.serial
        and credit.cast_at is not None
        and credit.cast_at <= occurred_at
    )


def _audit_key(event_id: int, voter_id: int, author_id: int) -> str:
    return f"serial:{event_id}:{voter_id}:{author_id}"


def _offending(peers: list[Peer], cast_at: datetime, limit: int) -> dict[int, Peer]:
    """Every peer in some 24-hour window [start, start + WINDOW] that starts at a peer cast in
    [cast_at - WINDOW, cast_at] and holds more than ``limit`` peers, by vote id.

    By time order and bisection: a serial voter's peers number in the hundreds, and comparing
    each with each for every vote of a batch cost more than the rest of detection."""
    ordered = sorted(peers, key=_cast)
    times = [_cast(p) for p in ordered]
    group: dict[int, Peer] = {}
    reach = 0  # every peer below this index is in the group already
    for i in range(bisect_left(times, cast_at - WINDOW), bisect_right(times, cast_at)):
        first = bisect_left(times, times[i])  # peers cast at the same time start it too
        end = bisect_right(times, times[i] + WINDOW)
        if end - first > limit:
            group.update((p.vote_id, p) for p in ordered[max(first, reach) : end])
            reach = max(reach, end)
    return group


def _cast(peer: Peer) -> datetime:
    assert peer.cast_at is not None  # peers are the credits cast in a window
    return peer.cast_at


_HELD_AUDITS = Statement(
    lambda d: d.probe(
        ":keys::text[]",
        "SELECT id, source_key FROM reputation_audit WHERE tenant_id = :tenant",
        "source_key",
    )
)
_TITLES = Statement(
    lambda d: d.probe(
        ":ids::bigint[]", f"SELECT id, title FROM idea WHERE {d.owner()} = :tenant", "id"
    )
)


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
    group = _offending(peers, cast_at, limit)
    newly = [p for p in group.values() if isinstance(p, VoteCredit) and not p.serial]
    if not newly:
        return
    titles: dict[int, str] = {credit.idea_id: subject} if subject else {}
    others = {p.idea_id for p in newly} - set(titles)
    if others:
        rows = await read(_TITLES, tenant=current_tenant_id(), ids=sorted(others))
        titles.update((int(row[0]), str(row[1])) for row in rows)
    # Whether the reversals exist (a replay): known for the batch's own votes, one statement for
    # the older votes of a group found the first time.
    await book.know_keys(f"serial:{p.vote_id}:{side}" for p in newly for side in SIDES)
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
    key = _audit_key(event.id, credit.voter_id, credit.author_id)
    found = _found(book)
    # The audits prepare() looked for (a batch), and those it found; else look this one up.
    prepared: tuple[set[str], dict[str, int]] = book.state.get("audits") or (set(), {})
    audit_id = prepared[1].get(key)
    if audit_id is None and key not in prepared[0]:
        audit = await ReputationAudit.filter(source_key=key).first()
        audit_id = audit.id if audit is not None else None
    if audit_id is None:
        # Written with the batch's other audits when the booking finishes (one INSERT).
        found.audits[key] = (
            AuditKind.SERIAL_VOTING.value,
            key,
            credit.voter_id,
            credit.author_id,
            orjson.dumps(sorted(p.vote_id for p in group.values())).decode(),
            reversed_author,
            min(times),
            max(times),
            event.id,
            f"{len(group)} votes by member {credit.voter_id} on ideas of member "
            f"{credit.author_id} within 24 h (limit {limit}); {len(newly)} newly reversed: "
            f"{reversed_author} points of the author, {reversed_voter} of the voter",
        )
    # The votes themselves stop counting too, not only their points (engine.vote_reversal), when
    # the booking ends: the ideas are locked once for every group the batch found, last.
    found.discounts.append((audit_id if audit_id is not None else key, [p.vote_id for p in newly]))


_AUDIT_COLUMNS = (
    "tenant_id",
    "kind",
    "source_key",
    "voter_id",
    "author_id",
    "vote_ids",
    "points_reversed",
    "window_start",
    "window_end",
    "event_id",
    "detail",
    "created_at",
)
# Rows per INSERT: 12 parameters each stays far below both databases' limits.
_AUDITS_PER_INSERT = 500


@dataclass
class _Found:
    """What a booking's detections found: the audits to write (by source key) and the votes to
    discount, each with its audit's id or, for an audit not yet written, its source key."""

    audits: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    discounts: list[tuple[int | str, list[int]]] = field(default_factory=list)

    async def flush(self) -> None:
        ids = await self._insert_audits()
        found = [(a if isinstance(a, int) else ids[a], votes) for a, votes in self.discounts]
        self.discounts = []
        await vote_reversal.discount_many(found)

    async def _insert_audits(self) -> dict[str, int]:
        audits, self.audits = list(self.audits.values()), {}
        ids: dict[str, int] = {}
        if not audits:
            return ids
        client = connection()
        postgres = client.capabilities.dialect == "postgres"
        tenant_id, now = current_tenant_id(), utcnow()
        for start in range(0, len(audits), _AUDITS_PER_INSERT):
            p = Params(postgres)
            rows = ", ".join(
                f"({', '.join(p(value) for value in (tenant_id, *row, now))})"
                for row in audits[start : start + _AUDITS_PER_INSERT]
            )
            # execute_query_dict: Tortoise's execute_query drops the rows of an INSERT.
            written = await client.execute_query_dict(
                f"INSERT INTO reputation_audit ({', '.join(_AUDIT_COLUMNS)}) VALUES {rows}"
                " RETURNING id, source_key",
                p.values,
            )
            ids.update((str(row["source_key"]), int(row["id"])) for row in written)
        return ids


def _found(book: Booking) -> _Found:
    """The booking's findings, made on first use and written when it finishes."""
    return book.part("serial", _Found)
