"""Many events of one tenant booked in one transaction (docs/architecture.md, "Consuming events
in batches").

The caller (``engine.consumers.process_batch``) claimed the events and runs this inside its unit
of work and the tenant's scope. Every member any of them books for is locked once, ascending (one
statement); what the handlers would read row by row is loaded up front; the handlers then run in
event order against one shared booking, which writes every entry with one multi-row INSERT and
every member's total and level with one UPDATE, before the caller marks the events processed in
the same transaction. A batch that fails leaves nothing behind: the events stay unprocessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine import request_ids
from engine.events import EventType
from engine.models.events import DomainEvent
from engine.reputation import vote_credits
from engine.reputation.awards import pk_of
from engine.reputation.consumer import consume as reputation
from engine.reputation.ledger import Booking, batch, lock_members
from engine.reputation.rules import rules_for_tenant


def _author_of_idea(event: DomainEvent) -> set[int]:
    author = ((event.data.get("idea") or {}).get("author") or {}).get("id")
    return {pk_of(author)} if author else set()


# Types whose members are known from the payload (votes: and their credits), so a batch can lock
# them before handling any event. Merges, unmerges, campaign closes and reopenings find their
# members by reading, and idea.created has a second consumer: those are handled one at a time.
_MEMBERS: dict[str, Callable[[DomainEvent], set[int]]] = {
    EventType.IDEA_SCORED: lambda e: {int(e.data["memberId"])},
    EventType.COMMENT_CREATED: lambda e: {int(e.data["authorId"])},
    EventType.IDEA_STATUS_CHANGED: _author_of_idea,
}
BATCHED: frozenset[str] = frozenset({EventType.IDEA_VOTED, *_MEMBERS})


async def consume(events: Sequence[DomainEvent]) -> None:
    """Book ``events`` (all of BATCHED types, of the tenant in scope) in the current unit of work."""
    if not events:
        return
    votes = [e for e in events if e.type == EventType.IDEA_VOTED]
    members = await vote_credits.members_of(votes)
    for event in events:
        if event.type in _MEMBERS:
            members |= _MEMBERS[event.type](event)
    locked = await lock_members(members)
    book = Booking(await rules_for_tenant(), events[0].occurred_at, None, locked)
    await vote_credits.prepare(book, votes)
    with batch(book):
        for event in events:
            with request_ids.bound(event.request_id):
                await reputation(event)
        await book.finish()
