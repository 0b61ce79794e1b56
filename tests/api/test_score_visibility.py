"""Contest scores are hidden from members until they scored, and from guests, while it is open."""

from __future__ import annotations

import orjson

from api.types.ids import encode_id
from engine import campaigns, scores
from engine.members import MemberData, upsert_member
from engine.models import CampaignMode, CampaignStatus
from tests import factories
from tests.api.conftest import member_token

READ = "query($i: ID!) { idea(id: $i) { counts { scoreCount averageScore } } }"
SCORE = """mutation($i: ID!) { scoreIdea(input: {ideaId: $i, score: 4}) {
  idea { counts { averageScore } viewerScore } userErrors { code } } }"""


async def test_average_score_hidden_until_scored_shown_to_brand_and_after_close(
    api, tenant
) -> None:
    author, early = await factories.members(2)
    contest = await factories.campaign(mode=CampaignMode.CONTEST)
    idea = await factories.idea(author, contest)
    await scores.score_idea(early, idea.id, 2)
    gid = encode_id("Idea", idea.id)
    pk, sk = tenant.publishable_key, tenant.secret_key

    async def read(**auth: str) -> dict[str, object]:
        return (await api.data(READ, {"i": gid}, **auth))["idea"]["counts"]

    late = member_token(tenant, "cus_late")
    assert await read(pk=pk) == {"scoreCount": 1, "averageScore": None}  # a guest
    assert await read(pk=pk, token=late) == {"scoreCount": 1, "averageScore": None}
    assert await read(pk=pk, token=member_token(tenant, author.external_id)) == {
        "scoreCount": 1,
        "averageScore": None,
    }
    assert await read(sk=sk) == {"scoreCount": 1, "averageScore": 2.0}
    early_token = member_token(tenant, early.external_id)
    assert (await read(pk=pk, token=early_token))["averageScore"] == 2.0
    # Scoring reveals it, in the mutation's own answer too.
    scored = await api.data(SCORE, {"i": gid}, pk=pk, token=late)
    assert scored["scoreIdea"]["idea"] == {"counts": {"averageScore": 3.0}, "viewerScore": 4}
    assert (await read(pk=pk, token=late))["averageScore"] == 3.0
    # The list shows the same rule.
    listed = await api.data("{ ideas { edges { node { counts { averageScore } } } } }", pk=pk)
    assert [e["node"]["counts"]["averageScore"] for e in listed["ideas"]["edges"]] == [None]
    await campaigns.set_campaign_status(contest.id, CampaignStatus.CLOSED)
    await upsert_member(MemberData(external_id="cus_after", display_name="After"))
    assert await read(pk=pk) == {"scoreCount": 2, "averageScore": 3.0}
    assert (await read(pk=pk, token=member_token(tenant, "cus_after")))["averageScore"] == 3.0


async def test_compiled_read_plans_hide_scores_by_the_same_rule(api, tenant) -> None:
    from tests.api.test_read_plans import HOT, both

    author, early = await factories.members(2)
    contest = await factories.campaign(mode=CampaignMode.CONTEST)
    idea = await factories.idea(author, contest)
    await scores.score_idea(early, idea.id, 4)
    variables = {"c": encode_id("Campaign", contest.id), "n": 10}
    pk = tenant.publishable_key

    def averages(body: bytes) -> list[object]:
        edges = orjson.loads(body)["data"]["ideas"]["edges"]
        return [e["node"]["counts"]["averageScore"] for e in edges]

    for auth, expected in (
        ({"pk": pk}, [None]),
        ({"pk": pk, "token": member_token(tenant, "cus_unscored")}, [None]),
        ({"pk": pk, "token": member_token(tenant, early.external_id)}, [4.0]),
        ({"sk": tenant.secret_key}, [4.0]),
    ):
        normal, compiled = await both(api, HOT, variables, **auth)
        assert compiled == normal
        assert averages(compiled) == expected, auth
    await campaigns.set_campaign_status(contest.id, CampaignStatus.CLOSED)
    normal, compiled = await both(api, HOT, variables, pk=pk)
    assert compiled == normal
    assert averages(compiled) == [4.0]
