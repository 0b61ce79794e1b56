"""Reputation over GraphQL: Member.level/badges/reputationHistory, leaderboard, reputationRules."""

from __future__ import annotations

from api.types.ids import encode_id
from engine import votes
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import member_token
from tests.conftest import count_queries

SUBMIT = """mutation($c: ID!, $t: String!) { submitIdea(input: {campaignId: $c, title: $t,
  body: "b"}) { idea { id } userErrors { code } } }"""
VOTE = """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }"""
PROFILE = """{ viewer { id reputation canFlag
  level { number name threshold nextThreshold progress }
  badges { code name kind }
  reputationHistory(first: 5) { totalCount
    edges { node { points reason message withheld idea { title } } } } } }"""


async def test_a_members_reputation_level_badges_and_history(api, tenant) -> None:
    pk = tenant.publishable_key
    campaign = await factories.campaign()
    alice, bob = member_token(tenant, "cus_alice"), member_token(tenant, "cus_bob")
    submitted = await api.data(
        SUBMIT, {"c": encode_id("Campaign", campaign.id), "t": "Oat cold brew"}, pk=pk, token=alice
    )
    idea_id = submitted["submitIdea"]["idea"]["id"]
    await api.data(VOTE, {"i": idea_id}, pk=pk, token=bob)
    await api.background.queue.drain()

    viewer = (await api.data(PROFILE, pk=pk, token=alice))["viewer"]
    assert viewer["reputation"] == 15
    assert viewer["level"] == {
        "number": 1,
        "name": "Contributor",
        "threshold": 15,
        "nextThreshold": 100,
        "progress": 0.0,
    }
    assert viewer["canFlag"] is True
    assert viewer["badges"] == [{"code": "first-idea", "name": "First idea", "kind": "RULE"}]
    history = viewer["reputationHistory"]
    assert history["totalCount"] == 2
    assert [e["node"] for e in history["edges"]] == [
        {
            "points": 10,
            "reason": "UPVOTE_RECEIVED",
            "message": "+10: your idea “Oat cold brew” was upvoted",
            "withheld": 0,
            "idea": {"title": "Oat cold brew"},
        },
        {
            "points": 5,
            "reason": "IDEA_SUBMITTED",
            "message": "+5: you submitted the idea “Oat cold brew”",
            "withheld": 0,
            "idea": {"title": "Oat cold brew"},
        },
    ]
    bob_view = (await api.data(PROFILE, pk=pk, token=bob))["viewer"]
    assert (bob_view["reputation"], bob_view["level"]["number"], bob_view["canFlag"]) == (
        1,
        0,
        False,
    )
    assert bob_view["level"]["progress"] == round(1 / 15, 4)

    # Another member sees the level and badges, never the history.
    other = await api.data(
        """query($id: ID!) { member(id: $id) { reputation level { number } badges { code }
             reputationHistory { totalCount } } }""",
        {"id": viewer["id"]},
        pk=pk,
        token=bob,
    )
    assert other["member"] == {
        "reputation": 15,
        "level": {"number": 1},
        "badges": [{"code": "first-idea"}],
        "reputationHistory": None,
    }
    brand = await api.data(
        "query($id: ID!) { member(id: $id) { reputationHistory { totalCount } } }",
        {"id": viewer["id"]},
        sk=tenant.secret_key,
    )
    assert brand["member"]["reputationHistory"] == {"totalCount": 2}


async def test_leaderboards_by_period_and_campaign(api, tenant) -> None:
    alice, bob, carol = await factories.members(3)
    spring, autumn = await factories.campaign(), await factories.campaign()
    a_idea = await factories.idea(alice, spring)
    await factories.idea(bob, autumn)
    await votes.cast_vote(carol, a_idea.id, VoteValue.UP)
    await api.background.queue.drain()
    query = """query($c: ID, $p: LeaderboardPeriod!) { leaderboard(campaignId: $c, period: $p,
      first: 10) { rank points member { displayName } } }"""
    board = await api.data(query, {"c": None, "p": "MONTH"}, pk=tenant.publishable_key)
    assert [(e["rank"], e["points"], e["member"]["displayName"]) for e in board["leaderboard"]] == [
        (1, 15, alice.display_name),
        (2, 5, bob.display_name),
        (3, 1, carol.display_name),
    ]
    in_autumn = await api.data(
        query, {"c": encode_id("Campaign", autumn.id), "p": "ALL_TIME"}, pk=tenant.publishable_key
    )
    assert [e["member"]["displayName"] for e in in_autumn["leaderboard"]] == [bob.display_name]

    too_many = await api.gql("{ leaderboard(first: 500) { rank } }", pk=tenant.publishable_key)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_id = await api.gql(
        "query($c: ID) { leaderboard(campaignId: $c) { rank } }",
        {"c": encode_id("Idea", a_idea.id)},
        pk=tenant.publishable_key,
    )
    assert wrong_id["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await api.gql("{ leaderboard { rank } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_leaderboard_members_load_in_constant_statements(api, tenant) -> None:
    campaign = await factories.campaign()
    for member in await factories.members(30):
        await factories.idea(member, campaign)
    await api.background.queue.drain()
    query = """query($n: Int!) { leaderboard(period: WEEK, first: $n) { rank
      member { displayName level { name } badges { code } canFlag } } }"""
    await api.data(query, {"n": 2}, pk=tenant.publishable_key)  # warm the key cache
    counts = {}
    for size in (5, 30):
        with count_queries() as log:
            data = await api.data(query, {"n": size}, pk=tenant.publishable_key)
        assert len(data["leaderboard"]) == size
        counts[size] = log.count
    # aggregate + members + badges + rules
    assert counts[5] == counts[30] <= 4, counts


async def test_the_rules_are_public(api, tenant) -> None:
    data = await api.data(
        """{ reputationRules { points { upvoteReceived downvoteReceived campaignWinner }
             dailyVoteCap serialVoteLimit flagMinLevel levels { number name threshold } } }""",
        pk=tenant.publishable_key,
    )
    rules = data["reputationRules"]
    assert rules["points"] == {"upvoteReceived": 10, "downvoteReceived": -2, "campaignWinner": 200}
    assert (rules["dailyVoteCap"], rules["flagMinLevel"]) == (200, 1)
    assert rules["levels"][:2] == [
        {"number": 0, "name": "Newcomer", "threshold": 0},
        {"number": 1, "name": "Contributor", "threshold": 15},
    ]
