"""The reputation consumer of domain events (listed in engine.consumers.CONSUMERS).

Runs once per event from a job, and again whenever a job is retried or the sweeper re-enqueues the
event, possibly on another worker and in any order. Each handler books in its own unit of work with
the members it touches locked, and every row it can write has a source key unique per tenant, so
running an event twice changes nothing. See vote_credits for how votes cope with order, and
engine.reputation.batch for many events booked in one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.events import EventType
from engine.models.events import DomainEvent
from engine.reputation import awards, merges, vote_credits
from engine.reputation.ledger import current_batch
from engine.reputation.rules import Rules, rules_for_tenant

Handler = Callable[[DomainEvent, Rules], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    EventType.IDEA_CREATED: awards.idea_submitted,
    EventType.IDEA_VOTED: vote_credits.apply_vote,
    EventType.IDEA_SCORED: awards.idea_scored,
    EventType.COMMENT_CREATED: awards.comment_created,
    EventType.IDEA_STATUS_CHANGED: awards.idea_status_changed,
    EventType.CAMPAIGN_CLOSED: awards.campaign_closed,
    EventType.CAMPAIGN_REOPENED: awards.campaign_reopened,
    EventType.IDEA_MERGED: merges.idea_merged,
    EventType.IDEA_UNMERGED: merges.idea_unmerged,
}


async def consume(event: DomainEvent) -> None:
    handler = HANDLERS.get(event.type)
    if handler is None:
        return
    shared = current_batch()  # a batch read its tenant's rules once
    await handler(event, shared.rules if shared else await rules_for_tenant(event.tenant_id))
