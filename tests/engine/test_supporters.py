"""Supporters: each customer once across upvotes and pledges and across merged ideas."""

from __future__ import annotations

from engine import merges, pledges, votes
from engine.members import MemberData, upsert_member
from engine.models import DomainEvent, Idea, ThresholdMetric
from engine.supporters import Supporters
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories


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
