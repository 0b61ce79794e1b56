from __future__ import annotations

from tests import factories
from tests.engine.reputation.support import process_pending


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


async def test_similar_ideas_flags_a_likely_duplicate_written_in_other_words(api, tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    await factories.idea(
        author, campaign, title="Stroller that folds with one hand", body="Holding the baby."
    )
    await factories.idea(author, campaign, title="Bigger basket under the stroller", body="Bags")
    await factories.idea(author, campaign, title="Loyalty card in the app", body="Tenth free")
    await process_pending()  # what the in-process jobs do after each submit, to its end
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["id"]
    query = """query($c: ID!, $t: String!) { similarIdeas(campaignId: $c, text: $t) {
        score likelyDuplicate idea { title } } }"""

    found = (
        await api.data(
            query, {"c": gid, "t": "One handed folding pushchair"}, pk=tenant.publishable_key
        )
    )["similarIdeas"]
    assert found[0]["idea"]["title"] == "Stroller that folds with one hand"
    assert found[0]["likelyDuplicate"] is True
    assert all(not s["likelyDuplicate"] for s in found[1:])
    assert "Loyalty card in the app" not in [s["idea"]["title"] for s in found]
    novel = (
        await api.data(
            query, {"c": gid, "t": "Parking spaces for parents"}, pk=tenant.publishable_key
        )
    )["similarIdeas"]
    assert all(not s["likelyDuplicate"] for s in novel)
