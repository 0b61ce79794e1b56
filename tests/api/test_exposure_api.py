"""recordImpressions: any key may report what it showed; counted in memory, written in a batch."""

from __future__ import annotations

from api.types.ids import encode_id
from engine import exposure
from engine.models import Idea
from tests import factories

RECORD = "mutation R($ids: [ID!]!) { recordImpressions(input: {ideaIds: $ids}) { counted userErrors { field code } } }"


async def test_widget_reports_impressions_with_the_publishable_key(api, tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(2)]
    ids = [encode_id("Idea", i.id) for i in ideas]
    await exposure.buffer().flush()
    data = await api.data(RECORD, {"ids": [*ids, ids[0]]}, pk=tenant.publishable_key)
    assert data["recordImpressions"] == {"counted": 2, "userErrors": []}
    assert (await Idea.get(id=ideas[0].id)).impressions == 0
    await exposure.buffer().flush()
    assert (await Idea.get(id=ideas[0].id)).impressions == 1


async def test_bad_reports_get_user_errors_and_count_nothing(api, tenant) -> None:
    too_many = [encode_id("Idea", n) for n in range(1, 102)]
    data = await api.data(RECORD, {"ids": too_many}, pk=tenant.publishable_key)
    assert data["recordImpressions"]["userErrors"] == [{"field": "ideaIds", "code": "OUT_OF_RANGE"}]
    data = await api.data(RECORD, {"ids": ["not-an-id"]}, pk=tenant.publishable_key)
    assert data["recordImpressions"] == {
        "counted": 0,
        "userErrors": [{"field": "ideaIds", "code": "NOT_FOUND"}],
    }
    assert exposure.buffer().pending == 0
    body = await api.gql(RECORD, {"ids": []})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
