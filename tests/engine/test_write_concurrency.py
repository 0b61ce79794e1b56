"""Writers at once on PostgreSQL: votes, pledges, scores, merges, status changes and the ledger.

Many members vote, change and retract on a few ideas while pledges, scores, merges and unmerges,
status changes and the reputation consumer run at the same time. No deadlock or serialization error
reaches a caller, every idea's counters equal its rows, and each threshold is crossed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

import pytest
from tortoise.functions import Sum

from engine import consumers, ideas, merges, pledges, scores, votes
from engine.errors import DomainError
from engine.models import (
    CampaignMode,
    DomainEvent,
    Idea,
    IdeaStatus,
    Member,
    Pledge,
    Score,
    ThresholdCrossing,
    ThresholdMetric,
    Vote,
)
from engine.reputation.models import ReputationEntry
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories

MEMBERS = 40
ROUNDS = 6


async def _drain_events() -> None:
    """This tenant's events only (other tests' tenants are out of this test's scope)."""
    while True:
        ids: list[Any] = await DomainEvent.filter(processed_at=None).values_list("id", flat=True)
        if not ids:
            return
        for event_id in ids:
            await consumers.process_event(int(event_id))


async def _consume_while(running: asyncio.Event) -> None:
    """The reputation consumer booking (and locking members) while the votes still come in."""
    while not running.is_set():
        ids: list[Any] = (
            await DomainEvent.filter(processed_at=None).order_by("id").values_list("id", flat=True)
        )
        await asyncio.gather(*(consumers.process_event(int(i)) for i in ids[:20]))
        await asyncio.sleep(0)


async def _check_counters(idea_ids: list[int]) -> None:
    for idea in await Idea.filter(id__in=idea_ids):
        values: list[int] = await Vote.filter(idea_id=idea.id).values_list("value", flat=True)  # type: ignore[assignment]
        assert idea.upvotes == sum(1 for v in values if v == 1), idea.id
        assert idea.downvotes == sum(1 for v in values if v == -1), idea.id
        assert idea.net_votes == sum(values), idea.id
        quantities: list[int] = await Pledge.filter(idea_id=idea.id).values_list(  # type: ignore[assignment]
            "quantity", flat=True
        )
        assert idea.pledgers == sum(1 for q in quantities if q > 0), idea.id
        assert idea.pledged_quantity == sum(quantities), idea.id
        marks: list[int] = await Score.filter(idea_id=idea.id).values_list("value", flat=True)  # type: ignore[assignment]
        assert (idea.score_count, idea.score_sum) == (len(marks), sum(marks)), idea.id


async def test_many_writers_at_once_never_deadlock_and_keep_counters_exact(
    tenant, database, caplog
) -> None:
    if database != "postgres":
        pytest.skip("row locks and deadlocks are PostgreSQL's; SQLite has a single writer")
    caplog.set_level(logging.INFO, logger="engine.conflicts")
    rng = random.Random(7)
    author, other_author = await factories.members(2)
    crowd = await factories.members(MEMBERS)
    threshold = ThresholdSpec(ThresholdMetric.NET_VOTES, MEMBERS // 2)
    pledged = ThresholdSpec(ThresholdMetric.PLEDGERS, 5)
    campaign = await factories.campaign(thresholds=(threshold, pledged))
    hot = [await factories.idea(author, campaign) for _ in range(3)]
    source = await factories.idea(other_author, campaign)  # merged and unmerged into hot[0]
    contest = await factories.campaign(mode=CampaignMode.CONTEST)
    entries = [await factories.idea(author, contest) for _ in range(2)]
    targets = [*hot, source]

    async def member_life(member: Member) -> None:
        for _ in range(ROUNDS):
            idea = rng.choice(targets)
            choice = rng.random()
            # A rule saying no (voting on a merged idea, say) is an answer, not a failure.
            with contextlib.suppress(DomainError):
                if choice < 0.6:
                    await votes.cast_vote(member, idea.id, rng.choice(list(VoteValue)))
                elif choice < 0.8:
                    await pledges.pledge(member, idea.id, rng.choice([0, 1, 2, 5]))
                else:
                    await scores.score_idea(member, rng.choice(entries).id, rng.randint(1, 5))
            await asyncio.sleep(0)

    async def brand() -> None:
        for step in range(ROUNDS):
            await ideas.set_idea_status(
                rng.choice(hot).id, rng.choice([IdeaStatus.UNDER_REVIEW, IdeaStatus.NEW]), "noted"
            )
            with contextlib.suppress(DomainError):
                if step % 2 == 0:
                    await merges.merge_ideas(source.id, hot[0].id, "duplicate")
                else:
                    await merges.unmerge_idea(source.id)
            await asyncio.sleep(0)

    done = asyncio.Event()
    consumer = asyncio.create_task(_consume_while(done))
    results: list[Any] = await asyncio.gather(
        *(member_life(m) for m in crowd), brand(), return_exceptions=True
    )
    # Everyone ends on UP on the first idea, at once: its threshold is crossed exactly once.
    results += await asyncio.gather(
        *(votes.cast_vote(m, hot[1].id, VoteValue.UP) for m in crowd), return_exceptions=True
    )
    done.set()
    results.append(await asyncio.gather(consumer, return_exceptions=True))
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    await _drain_events()

    await _check_counters([i.id for i in [*targets, *entries]])
    assert (await Idea.get(id=hot[1].id)).net_votes == MEMBERS
    crossings = await ThresholdCrossing.filter(idea_id=hot[1].id).count()
    reached = await DomainEvent.filter(type="idea.threshold_reached", idea_id=hot[1].id).count()
    assert crossings >= 1
    assert reached == crossings  # one event per crossing, none twice
    # Every reputation total is the sum of its ledger: no booking lost or doubled by a retry.
    for member in await Member.filter(id__in=[m.id for m in [author, other_author, *crowd]]):
        totals: list[Any] = (
            await ReputationEntry.filter(member_id=member.id)
            .annotate(total=Sum("points"))
            .group_by("member_id")
            .values_list("total", flat=True)
        )
        assert member.reputation == sum(int(t or 0) for t in totals), member.id
