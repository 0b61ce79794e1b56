"""serialVotingAudits and restoreSerialVotes (secret key)."""

from __future__ import annotations

from api.types.ids import encode_id
from engine import votes
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending

AUDITS = """{ serialVotingAudits { totalCount edges { node { id voteCount restoredAt
  voter { externalId } author { externalId } } } } }"""
RESTORE = """mutation($a: ID!) { restoreSerialVotes(input: {auditId: $a}) {
  audit { restoredAt } userErrors { code } } }"""
COUNTS = "query($i: ID!) { idea(id: $i) { counts { upvotes } } }"


async def test_the_brand_lists_and_restores_serial_votes(api, tenant) -> None:
    author, serial = await factories.members(2)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(6)]
    for idea in ideas:
        await votes.cast_vote(serial, idea.id, VoteValue.UP)
    await api.background.queue.drain()
    await process_pending()
    gid = encode_id("Idea", ideas[0].id)
    pk, sk = tenant.publishable_key, tenant.secret_key
    assert (await api.data(COUNTS, {"i": gid}, pk=pk))["idea"]["counts"]["upvotes"] == 0
    body = await api.gql(AUDITS, pk=pk)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    audits = (await api.data(AUDITS, sk=sk))["serialVotingAudits"]
    assert audits["totalCount"] == 1
    node = audits["edges"][0]["node"]
    assert (node["voteCount"], node["restoredAt"]) == (6, None)
    assert (node["voter"]["externalId"], node["author"]["externalId"]) == (
        serial.external_id,
        author.external_id,
    )
    restored = await api.data(RESTORE, {"a": node["id"]}, sk=sk)
    assert restored["restoreSerialVotes"]["userErrors"] == []
    assert restored["restoreSerialVotes"]["audit"]["restoredAt"] is not None
    assert (await api.data(COUNTS, {"i": gid}, pk=pk))["idea"]["counts"]["upvotes"] == 1
    again = await api.data(RESTORE, {"a": node["id"]}, sk=sk)
    assert again["restoreSerialVotes"]["userErrors"] == [{"code": "INVALID_TRANSITION"}]
