"""Supporters: each customer once across upvotes and pledges and across merged ideas."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tortoise import connections

from engine import events, member_import, merges, pledges, privacy, supporters, vote_reversal, votes
from engine.errors import DomainError
from engine.events import AfterCommitHook, EventType
from engine.members import MemberData, upsert_member
from engine.models import DomainEvent, Idea, Member, Pledge, ThresholdMetric, Vote
from engine.reputation.models import ReputationAudit
from engine.reputation.rules import RulesPatch, update_rules
from engine.supporters import Supporters
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending


async def _supporters(idea_id: int) -> Supporters:
    return Supporters.of(await Idea.get(id=idea_id))


async def test_upvote_and_pledge_count_one_customer_once(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    rich = await factories.member(customer_value_cents=50_000, verified=True)
    guest = await factories.member(customer_value_cents=700, verified=False)
    downer = await factories.member(customer_value_cents=99_999)

    await votes.cast_vote(rich, idea.id, VoteValue.UP)
    await pledges.pledge(rich, idea.id, 2)
    await pledges.pledge(guest, idea.id, 1)
    await votes.cast_vote(downer, idea.id, VoteValue.DOWN)  # a downvote supports nothing

    assert await _supporters(idea.id) == Supporters(2, 50_700, 1)

    await votes.cast_vote(rich, idea.id, VoteValue.NONE)  # still pledging: still one supporter
    assert await _supporters(idea.id) == Supporters(2, 50_700, 1)
    await pledges.pledge(rich, idea.id, 0)
    assert await _supporters(idea.id) == Supporters(1, 700, 0)


async def test_merge_and_unmerge_keep_supporters_exact(tenant) -> None:
    a, b = await factories.members(2, customer_value_cents=0)
    campaign = await factories.campaign()
    source = await factories.idea(a, campaign)
    target = await factories.idea(b, campaign)
    both = await factories.member(customer_value_cents=10_000)
    only_source = await factories.member(customer_value_cents=2_000, verified=False)
    await votes.cast_vote(both, source.id, VoteValue.UP)
    await pledges.pledge(both, source.id, 1)
    await pledges.pledge(both, target.id, 4)
    await votes.cast_vote(only_source, source.id, VoteValue.UP)
    before_source = await _supporters(source.id)
    assert before_source == Supporters(2, 12_000, 1)
    assert await _supporters(target.id) == Supporters(1, 10_000, 1)

    await merges.merge_ideas(source.id, target.id)
    # `both` supported both ideas: still one customer on the target.
    assert await _supporters(target.id) == Supporters(2, 12_000, 1)

    await merges.unmerge_idea(source.id)
    assert await _supporters(target.id) == Supporters(1, 10_000, 1)
    assert await _supporters(source.id) == before_source


async def test_value_change_recounts_and_crosses_a_supporter_value_threshold(tenant) -> None:
    author = await factories.member()
    spec = ThresholdSpec(ThresholdMetric.SUPPORTER_VALUE, 5_000_000, name="$50k customers")
    campaign = await factories.campaign(thresholds=(spec,))
    idea = await factories.idea(author, campaign)
    fan = await factories.member(customer_value_cents=1_000_000)
    await votes.cast_vote(fan, idea.id, VoteValue.UP)
    assert not await DomainEvent.filter(type="idea.threshold_reached").exists()

    # The CRM says this customer is worth $60 000 a year now.
    await upsert_member(MemberData(external_id=fan.external_id, customer_value_cents=6_000_000))

    assert await _supporters(idea.id) == Supporters(1, 6_000_000, 1)
    crossing = await DomainEvent.get(type="idea.threshold_reached", idea_id=idea.id)
    assert crossing.data["threshold"]["metric"] == "SUPPORTER_VALUE"
    # Once per idea and threshold, ever.
    await upsert_member(MemberData(external_id=fan.external_id, customer_value_cents=7_000_000))
    assert await DomainEvent.filter(type="idea.threshold_reached").count() == 1


async def test_pledge_crosses_supporter_value_threshold(tenant) -> None:
    author = await factories.member()
    spec = ThresholdSpec(ThresholdMetric.SUPPORTER_VALUE, 100_000)
    campaign = await factories.campaign(thresholds=(spec,))
    idea = await factories.idea(author, campaign)
    whale = await factories.member(customer_value_cents=150_000)
    outcome = await pledges.pledge(whale, idea.id, 1)
    assert [t.metric for t in outcome.crossed] == [ThresholdMetric.SUPPORTER_VALUE]


async def _recounted(idea_id: int) -> Supporters:
    """The supporters as a fresh reading of the rows says they are."""
    voters = set(
        await Vote.filter(idea_id=idea_id, value=1, discounted_by=None).values_list(
            "member_id", flat=True
        )
    )
    buyers = await Pledge.filter(idea_id=idea_id, quantity__gt=0).values_list(
        "member_id", flat=True
    )
    members = await Member.filter(id__in=list(voters | set(buyers)))
    return Supporters(
        len(members), sum(m.customer_value_cents for m in members), sum(m.verified for m in members)
    )


async def test_concurrent_votes_pledges_and_value_changes_stay_exact(tenant, database) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    crowd = await factories.members(12, customer_value_cents=1_000)

    async def support(n: int) -> None:
        member = crowd[n]
        await votes.cast_vote(member, idea.id, VoteValue.UP)
        if n % 2:
            await pledges.pledge(member, idea.id, 1)

    async def revalue(n: int) -> None:
        data = MemberData(external_id=crowd[n].external_id, customer_value_cents=5_000 + n)
        await upsert_member(data)

    await asyncio.gather(*(support(n) for n in range(12)), *(revalue(n) for n in range(12)))
    assert await _supporters(idea.id) == await _recounted(idea.id)
    assert (await _supporters(idea.id)).count == 12
    rows = [{"externalId": m.external_id, "customerValueCents": 7} for m in crowd]
    await asyncio.gather(
        member_import.import_members(rows),
        *(votes.cast_vote(m, idea.id, VoteValue.NONE) for m in crowd[:4]),
    )
    assert await _supporters(idea.id) == await _recounted(idea.id)


async def test_erasing_a_supporter_takes_their_value_away(tenant) -> None:
    from engine.privacy import erase_member

    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    fan = await factories.member(customer_value_cents=40_000)
    await pledges.pledge(fan, idea.id, 1)
    assert (await _supporters(idea.id)).customer_value_cents == 40_000
    await erase_member(fan.id)
    assert await _supporters(idea.id) == Supporters(1, 0, 1)  # still a supporter, worth nothing


# Five members on four ideas (0-2 by member 0, 3 by member 1): votes, pledges, value changes,
# merges, and the consumer finding serial votes (limit 2) and the brand restoring them.
_MEMBERS, _IDEAS = 5, 4
_member = st.integers(0, _MEMBERS - 1)
_idea = st.integers(0, _IDEAS - 1)
_steps = st.one_of(
    st.tuples(st.just("vote"), _member, _idea, st.sampled_from([1, 1, 0, -1])),
    st.tuples(st.just("pledge"), _member, _idea, st.integers(0, 3)),
    st.tuples(
        st.just("revalue"), _member, st.integers(0, 50_000), st.sampled_from([True, False, None])
    ),
    st.tuples(st.just("merge"), _idea, _idea),
    st.tuples(st.just("unmerge"), _idea),
    st.tuples(st.just("process")),
    st.tuples(st.just("restore")),
)
# A member who upvotes and pledges, whose votes then turn serial, and one who moves both rows.
_STORY = [
    ("vote", 2, 0, 1),
    ("pledge", 2, 0, 2),
    ("vote", 2, 1, 1),
    ("vote", 2, 2, 1),
    ("process",),
    ("pledge", 2, 0, 0),
    ("vote", 3, 0, 1),
    ("revalue", 3, 900, True),
    ("merge", 0, 3),
    ("vote", 4, 3, 1),
    ("pledge", 3, 3, 1),
    ("vote", 3, 3, 0),
    ("restore",),
    ("unmerge", 0),
]


@settings(
    max_examples=int(os.environ.get("COSOURCE_HYPOTHESIS_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(steps=_STORY)
@given(steps=st.lists(_steps, min_size=8, max_size=30))
async def test_supporters_always_equal_a_recount(
    database: str, steps: list[tuple[Any, ...]]
) -> None:
    """Votes and pledges move the supporters by their member's step alone (engine.supporters);
    everything else recounts. After every step, each idea's three numbers equal a fresh count
    of its rows, whatever happened before."""
    new = await create_tenant(f"Supporters {secrets.token_hex(4)}")
    with tenant_scope(new.tenant.id):
        await update_rules(RulesPatch(serial_vote_limit=2))
        members = [
            await factories.member(customer_value_cents=1_000 * (n + 1), verified=n % 2 == 0)
            for n in range(_MEMBERS)
        ]
        campaign = await factories.campaign()
        ideas = [await factories.idea(members[0], campaign) for _ in range(_IDEAS - 1)]
        ideas.append(await factories.idea(members[1], campaign))
        for step in steps:
            try:
                if step[0] == "vote":
                    await votes.cast_vote(members[step[1]], ideas[step[2]].id, VoteValue(step[3]))
                elif step[0] == "pledge":
                    await pledges.pledge(members[step[1]], ideas[step[2]].id, step[3])
                elif step[0] == "revalue":
                    data = MemberData(
                        external_id=members[step[1]].external_id,
                        customer_value_cents=step[2],
                        verified=step[3],
                    )
                    await upsert_member(data)
                elif step[0] == "merge":
                    await merges.merge_ideas(ideas[step[1]].id, ideas[step[2]].id)
                elif step[0] == "unmerge":
                    await merges.unmerge_idea(ideas[step[1]].id)
                elif step[0] == "process":
                    await process_pending()
                else:
                    for audit in await ReputationAudit.filter(restored_at=None):
                        await vote_reversal.restore(audit.id)
            except DomainError:
                pass  # refused (a self-vote, a merged idea, nothing to unmerge): nothing moved
            for idea in ideas:
                assert await _supporters(idea.id) == await _recounted(idea.id), (step, idea.id)


# A member action on an idea, and a change of the member's value or flag, racing (PostgreSQL).


async def _act(kind: str, member: Member, idea_id: int, amount: int) -> None:
    if kind == "vote":
        await votes.cast_vote(member, idea_id, VoteValue(amount))
    else:
        await pledges.pledge(member, idea_id, amount)


async def _change(changer: str, member: Member) -> None:
    if changer == "value":
        await upsert_member(MemberData(external_id=member.external_id, customer_value_cents=9_000))
    elif changer == "verified":
        await upsert_member(MemberData(external_id=member.external_id, verified=False))
    elif changer == "import":
        rows = [{"externalId": member.external_id, "customerValueCents": 9_000}]
        assert (await member_import.import_members(rows)).updated == 1
    else:
        await privacy.erase_member(member.id)


async def _pid() -> int:
    """The backend of the transaction this task is in."""
    rows = await connections.get("default").execute_query_dict("SELECT pg_backend_pid() AS pid")
    return int(rows[0]["pid"])


class _Hold:
    """Stops one transaction just before its COMMIT until released, and says which backend."""

    def __init__(self) -> None:
        self.pid = 0
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def stop(self) -> None:
        if self.held.is_set():
            return
        self.pid = await _pid()
        self.held.set()
        await self.release.wait()


class _HoldAction(AfterCommitHook):
    """The action's unit of work, between its supporters' step and its COMMIT (its event is
    recorded)."""

    def __init__(self, hold: _Hold, event_type: str, member_id: int) -> None:
        self.hold, self.event_type, self.member_id = hold, event_type, member_id

    async def before_commit(self, connection: Any, recorded: Sequence[DomainEvent]) -> None:
        if any(e.type == self.event_type and e.member_id == self.member_id for e in recorded):
            await self.hold.stop()

    async def after_commit(self, recorded: Sequence[DomainEvent]) -> None:
        return None


async def _run_against(
    database_url: str, hold: _Hold, first: Awaitable[None], second: Callable[[], Awaitable[None]]
) -> None:
    """``first`` until it is held open, then ``second`` until it finished or waits for the held
    transaction (a lock), then release ``first``: both must finish."""
    held = asyncio.ensure_future(first)
    await asyncio.wait(
        {held, asyncio.ensure_future(hold.held.wait())}, return_when="FIRST_COMPLETED"
    )
    assert hold.held.is_set(), held.result()
    other = asyncio.ensure_future(second())
    watcher = await asyncpg.connect(database_url)
    try:
        # Polled: a lock wait announces itself nowhere else.
        while not other.done():
            blocked = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                hold.pid,
            )
            if blocked:
                break
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()
        hold.release.set()
    await asyncio.gather(held, other)


@pytest.mark.parametrize("kind", ["vote", "pledge"])
@pytest.mark.parametrize("order", ["action first", "change first"])
@pytest.mark.parametrize(
    ("changer", "earlier_row"),
    [("value", False), ("verified", False), ("import", True), ("erase", True)],
)
async def test_an_action_racing_a_value_change_leaves_exact_supporters(
    database, database_url, tenant, monkeypatch, kind, order, changer, earlier_row
) -> None:
    """The action is held open after its step (or the change after its recount) while the other
    runs: whichever commits last, the idea's supporters equal a recount of the rows. Before the
    fix the change missed the action's uncommitted row and the action stepped by the member's old
    value, so the idea kept it for good. ``earlier_row``: the member's row exists (retracted),
    so the action updates it and no foreign key check touches the member."""
    if database != "postgres":
        pytest.skip("SQLite has one writer: the two cannot interleave")
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    fan = await factories.member(customer_value_cents=1_000, verified=True)
    if earlier_row:
        await _act(kind, fan, idea.id, -1 if kind == "vote" else 1)
        await _act(kind, fan, idea.id, 0)
    hold = _Hold()
    if order == "action first":
        event_type = EventType.IDEA_VOTED if kind == "vote" else EventType.IDEA_PLEDGED
        previous = events.installed_hooks()
        events.install_hooks(*previous, _HoldAction(hold, event_type, fan.id))
        try:
            await _run_against(
                database_url, hold, _act(kind, fan, idea.id, 1), lambda: _change(changer, fan)
            )
        finally:
            events.install_hooks(*previous)
    else:
        refresh = supporters.refresh_ideas

        async def refresh_then_hold(idea_ids: list[int]) -> int:
            recounted = await refresh(idea_ids)
            await hold.stop()
            return recounted

        monkeypatch.setattr(supporters, "refresh_ideas", refresh_then_hold)
        await _run_against(
            database_url, hold, _change(changer, fan), lambda: _act(kind, fan, idea.id, 1)
        )
    changed = await Member.get(id=fan.id)
    assert (changed.customer_value_cents, changed.verified) != (1_000, True)
    assert (await _supporters(idea.id)).count == 1
    assert await _supporters(idea.id) == await _recounted(idea.id)


@pytest.mark.parametrize("first", ["vote", "pledge"])
async def test_an_action_that_waited_for_the_members_other_action_steps_from_what_committed(
    database, database_url, tenant, first
) -> None:
    """The member's other kind of row commits while this action waits for the idea's lock: the
    supporters' step, a statement after that lock (engine.counters.bump), sees it and steps by
    nothing, so the member counts once. A step inside the UPDATE that waited would read the
    snapshot from before the other row committed, and the member would count twice."""
    if database != "postgres":
        pytest.skip("SQLite has one writer: the two cannot interleave")
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    fan = await factories.member(customer_value_cents=1_000, verified=True)
    second = "pledge" if first == "vote" else "vote"
    hold = _Hold()
    event_type = EventType.IDEA_VOTED if first == "vote" else EventType.IDEA_PLEDGED
    previous = events.installed_hooks()
    events.install_hooks(*previous, _HoldAction(hold, event_type, fan.id))
    try:
        await _run_against(
            database_url, hold, _act(first, fan, idea.id, 1), lambda: _act(second, fan, idea.id, 1)
        )
    finally:
        events.install_hooks(*previous)
    assert await _supporters(idea.id) == Supporters(1, 1_000, 1) == await _recounted(idea.id)
