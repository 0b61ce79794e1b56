from __future__ import annotations

from tests import factories


async def test_similar_ideas_and_insights(api, tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    await factories.idea(author, campaign, title="Compostable coffee pods", body="landfill")
    sk, pk = tenant.secret_key, tenant.publishable_key
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }", {"s": campaign.slug}, sk=sk
        )
    )["campaign"]["id"]
    similar = await api.data(
        """query($c: ID!) { similarIdeas(campaignId: $c, text: "compostable pods") {
        score idea { title } } }""",
        {"c": gid},
        pk=pk,
    )
    assert [s["idea"]["title"] for s in similar["similarIdeas"]] == ["Compostable coffee pods"]
    refused = await api.gql(
        "query($c: ID!) { campaignInsights(campaignId: $c) { ideas } }", {"c": gid}, pk=pk
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    data = await api.data(
        """query($c: ID!) { campaignInsights(campaignId: $c) { ideas
        participantsThisWeek newIdeasWithoutVotes alerts daily { day ideas } } }""",
        {"c": gid},
        sk=sk,
    )
    result = data["campaignInsights"]
    assert result["ideas"] == 1 and result["participantsThisWeek"] == 1
    assert result["newIdeasWithoutVotes"] == 1 and len(result["daily"]) == 14
    assert result["daily"][-1]["ideas"] == 1
    missing = await api.gql(
        '{ campaignInsights(campaignId: "Q2FtcGFpZ246OTk5OTk=") { ideas } }', sk=sk
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
