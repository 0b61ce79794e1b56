"""Threshold crossings: once per idea and threshold, ever, with what stores and CRMs need."""

from __future__ import annotations

import asyncio
import re

import orjson

from engine import campaigns, pledges, scores, votes
from engine.models import CampaignMode, DomainEvent, Threshold, ThresholdCrossing, ThresholdMetric
from engine.ranking import Counters
from engine.thresholds import ThresholdSpec, metric_value
from engine.votes import VoteValue
from tests import factories
from tests.conftest import count_queries


async def _crossings(idea_id: int) -> list[DomainEvent]:
    return await DomainEvent.filter(type="idea.threshold_reached", idea_id=idea_id).order_by("id")


async def test_net_votes_threshold_fires_once_even_after_dipping(tenant) -> None:
    author = await factories.member()
    voters = await factories.members(4)
    campaign = await factories.campaign(thresholds=(ThresholdSpec(ThresholdMetric.NET_VOTES, 3),))
    idea = await factories.idea(author, campaign)
    for voter in voters[:2]:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert await _crossings(idea.id) == []
    outcome = await votes.cast_vote(voters[2], idea.id, VoteValue.UP)
    assert [t.metric for t in outcome.crossed] == [ThresholdMetric.NET_VOTES]
    await votes.cast_vote(voters[2], idea.id, VoteValue.NONE)  # dips below
    await votes.cast_vote(voters[2], idea.id, VoteValue.UP)  # and back over
    await votes.cast_vote(voters[3], idea.id, VoteValue.UP)
    events = await _crossings(idea.id)
    assert len(events) == 1
    data = events[0].data
    assert data["threshold"]["metric"] == "NET_VOTES" and data["threshold"]["value"] == 3
    assert data["counts"]["netVotes"] == 3
    assert {s["externalId"] for s in data["supporters"]} == {v.external_id for v in voters[:3]}
    assert all(s["email"] for s in data["supporters"])
    assert data["idea"]["author"]["externalId"] == author.external_id


async def test_concurrent_votes_across_a_threshold_record_one_crossing(tenant) -> None:
    author = await factories.member()
    crowd = await factories.members(30)
    campaign = await factories.campaign(thresholds=(ThresholdSpec(ThresholdMetric.UPVOTES, 20),))
    idea = await factories.idea(author, campaign)
    results = await asyncio.gather(*(votes.cast_vote(m, idea.id, VoteValue.UP) for m in crowd))
    assert sum(len(r.crossed) for r in results) == 1
    assert len(await _crossings(idea.id)) == 1
    assert await ThresholdCrossing.filter(idea_id=idea.id).count() == 1


async def test_pledge_thresholds_carry_the_pledges(tenant) -> None:
    author = await factories.member()
    buyers = await factories.members(3)
    campaign = await factories.campaign(
        thresholds=(
            ThresholdSpec(ThresholdMetric.PLEDGED_QUANTITY, 10, name="pre-order batch"),
            ThresholdSpec(ThresholdMetric.PLEDGERS, 3),
        )
    )
    idea = await factories.idea(author, campaign)
    await pledges.pledge(buyers[0], idea.id, 6)
    await pledges.pledge(buyers[1], idea.id, 4)  # quantity 10: first crossing
    await pledges.pledge(buyers[2], idea.id, 1)  # 3 pledgers: second crossing
    events = await _crossings(idea.id)
    assert [e.data["threshold"]["metric"] for e in events] == ["PLEDGED_QUANTITY", "PLEDGERS"]
    first = events[0].data
    assert first["threshold"]["name"] == "pre-order batch"
    assert [(p["externalId"], p["quantity"]) for p in first["pledges"]] == [
        (buyers[0].external_id, 6),
        (buyers[1].external_id, 4),
    ]
    assert first["pledgesTotal"] == 2 and first["counts"]["pledgedQuantity"] == 10


async def test_average_score_waits_for_min_count(tenant) -> None:
    author = await factories.member()
    judges = await factories.members(3)
    campaign = await factories.campaign(
        mode=CampaignMode.CONTEST,
        thresholds=(ThresholdSpec(ThresholdMetric.AVERAGE_SCORE, 4.0, min_count=3),),
    )
    idea = await factories.idea(author, campaign)
    await scores.score_idea(judges[0], idea.id, 5)
    await scores.score_idea(judges[1], idea.id, 5)  # average 5, but only 2 scores
    assert await _crossings(idea.id) == []
    await scores.score_idea(judges[2], idea.id, 3)  # 13 / 3 = 4.33 with 3 scores
    events = await _crossings(idea.id)
    assert len(events) == 1 and events[0].data["counts"]["averageScore"] == round(13 / 3, 4)


async def test_archived_thresholds_do_not_fire_and_kept_ones_keep_their_id(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(
        thresholds=(
            ThresholdSpec(ThresholdMetric.NET_VOTES, 1),
            ThresholdSpec(ThresholdMetric.UPVOTES, 5),
        )
    )
    live = Threshold.filter(campaign_id=campaign.id, archived_at=None)
    before = {t.metric: t.id for t in await live}
    await campaigns.update_campaign(
        campaign.id,
        campaigns.CampaignPatch(
            thresholds=(ThresholdSpec(ThresholdMetric.UPVOTES, 5, name="renamed"),)
        ),
    )
    after = await live
    assert [(t.id, t.name) for t in after] == [(before[ThresholdMetric.UPVOTES], "renamed")]
    idea = await factories.idea(author, campaign)
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert await _crossings(idea.id) == []


async def test_payload_stays_under_20_kb_with_many_supporters(tenant) -> None:
    author = await factories.member()
    crowd = await factories.members(400, display_name="A rather long display name " * 3)
    campaign = await factories.campaign(thresholds=(ThresholdSpec(ThresholdMetric.UPVOTES, 400),))
    idea = await factories.idea(author, campaign, body="ü" * 10_000)
    for member in crowd:
        await votes.cast_vote(member, idea.id, VoteValue.UP)
    (event,) = await _crossings(idea.id)
    body = orjson.dumps(
        {"type": event.type, "timestamp": "2026-01-01T00:00:00.000Z", "data": event.data}
    )
    assert len(body) < 20_000
    assert event.data["truncated"] is True and event.data["supportersTotal"] == 400
    assert 0 < len(event.data["supporters"]) < 400
    assert event.data["idea"]["bodyTruncated"] is True


async def test_average_score_is_the_mean_of_the_scores(tenant) -> None:
    author = await factories.member()
    judges = await factories.members(2)
    campaign = await factories.campaign(
        mode=CampaignMode.CONTEST,
        thresholds=(ThresholdSpec(ThresholdMetric.AVERAGE_SCORE, 4.0, min_count=2),),
    )
    idea = await factories.idea(author, campaign)
    await scores.score_idea(judges[0], idea.id, 3)
    await scores.score_idea(judges[1], idea.id, 3)  # average 3.0 (sum x count would be 12)
    assert await _crossings(idea.id) == []


async def test_one_score_is_enough_without_a_minimum_count(tenant) -> None:
    author, judge = await factories.members(2)
    campaign = await factories.campaign(
        mode=CampaignMode.CONTEST,
        thresholds=(ThresholdSpec(ThresholdMetric.AVERAGE_SCORE, 4.0),),  # min_count 0
    )
    idea = await factories.idea(author, campaign)
    await scores.score_idea(judge, idea.id, 5)
    assert len(await _crossings(idea.id)) == 1


def test_an_unscored_idea_has_no_average_even_without_a_minimum_count() -> None:
    threshold = Threshold(metric=ThresholdMetric.AVERAGE_SCORE, value=1.0, min_count=0)
    unscored = Counters(
        0, 0, 0, score_sum=0, score_count=0, pledgers=0, pledged_quantity=0, comment_count=0
    )
    assert metric_value(threshold, unscored) is None  # not a division by zero


async def test_a_threshold_already_crossed_is_not_inserted_again(tenant) -> None:
    author, first, second = await factories.members(3)
    campaign = await factories.campaign(thresholds=(ThresholdSpec(ThresholdMetric.NET_VOTES, 1),))
    idea = await factories.idea(author, campaign)
    await votes.cast_vote(first, idea.id, VoteValue.UP)
    with count_queries() as log:
        await votes.cast_vote(second, idea.id, VoteValue.UP)  # still above: reached again
    # The crossing found already is skipped, not inserted to fail on the unique row.
    assert not [s for s in log.statements if re.search(r'INSERT INTO "?threshold_crossing\b', s)]
    assert len(await _crossings(idea.id)) == 1


async def test_the_crossing_lists_current_pledgers_with_their_emails(tenant) -> None:
    author, gone, buyer, other = await factories.members(4)
    campaign = await factories.campaign(
        thresholds=(ThresholdSpec(ThresholdMetric.PLEDGED_QUANTITY, 2),)
    )
    idea = await factories.idea(author, campaign)
    await pledges.pledge(gone, idea.id, 1)
    await pledges.pledge(gone, idea.id, 0)  # withdrawn: not a pledger any more
    await pledges.pledge(buyer, idea.id, 1)  # a pledge of one counts
    await pledges.pledge(other, idea.id, 1)  # quantity 2: crossed
    [event] = await _crossings(idea.id)
    data = event.data
    assert sorted((p["externalId"], p["quantity"]) for p in data["pledges"]) == sorted(
        [(buyer.external_id, 1), (other.external_id, 1)]
    )
    # The event keeps emails; webhooks.payload strips them unless the endpoint allows them.
    assert buyer.email and {p["email"] for p in data["pledges"]} == {buyer.email, other.email}
    assert buyer.email in {s["email"] for s in data["supporters"]}
    assert data["truncated"] is False  # everything fits


async def test_payload_stays_under_20_kb_with_many_pledgers(tenant) -> None:
    author = await factories.member()
    crowd = await factories.members(150, display_name="A rather long display name " * 3)
    campaign = await factories.campaign(thresholds=(ThresholdSpec(ThresholdMetric.PLEDGERS, 150),))
    idea = await factories.idea(author, campaign)
    for member in crowd:
        await pledges.pledge(member, idea.id, 1)
    (event,) = await _crossings(idea.id)
    assert len(orjson.dumps(event.data)) < 20_000
    assert event.data["truncated"] is True and event.data["pledgesTotal"] == 150
    assert 0 < len(event.data["pledges"]) < 150
