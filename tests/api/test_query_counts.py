"""SQL statements per request stay constant as the page grows (dataloaders, no N+1)."""

from __future__ import annotations

from engine import votes
from engine.reputation.rules import RulesPatch, update_rules
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import member_token
from tests.conftest import count_queries

IDEAS = """query($c: ID!, $n: Int!) { ideas(campaignId: $c, first: $n, orderBy: TOP) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id title status counts { upvotes netVotes pledgers }
    author { id displayName reputation } campaign { id slug }
    viewerVote viewerPledge } } } }"""


async def test_ideas_10_50_and_100_run_the_same_number_of_statements(api, tenant) -> None:
    authors = await factories.members(12)
    campaign = await factories.campaign()
    ideas = [await factories.idea(authors[i % 12], campaign) for i in range(120)]
    viewer = await factories.member(external_id="cus_viewer")
    # Ten votes on each of four authors would be serial voting, which takes votes out of the counts.
    await update_rules(RulesPatch(serial_vote_limit=1000))
    for idea in ideas[::3]:
        await votes.cast_vote(viewer, idea.id, VoteValue.UP)
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["id"]
    token = member_token(tenant, "cus_viewer")
    # Consumer jobs (reputation) run SQL of their own: let them finish before counting.
    await api.background.queue.drain()
    await api.data(IDEAS, {"c": gid, "n": 5}, pk=tenant.publishable_key, token=token)  # warm

    counts = {}
    for size in (10, 50, 100):
        with count_queries() as log:
            data = await api.data(
                IDEAS, {"c": gid, "n": size}, pk=tenant.publishable_key, token=token
            )
        assert len(data["ideas"]["edges"]) == size
        counts[size] = log.count
    # page + count + authors + campaign + viewer votes + viewer pledges; the token's member was
    # resolved by the warm-up request and is not looked up again.
    assert counts == {10: 6, 50: 6, 100: 6}, counts
    voted = [e for e in data["ideas"]["edges"] if e["node"]["viewerVote"] == "UP"]
    assert len(voted) == 40
