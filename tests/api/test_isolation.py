"""Tenant A's keys and tokens can neither read nor write tenant B's data, node(id) included."""

from __future__ import annotations

from api.types.ids import encode_id
from engine import votes
from engine.models import Campaign, Idea, Member, Vote
from engine.tenancy import _current_tenant, tenant_scope
from engine.tenants import create_tenant
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import member_token


async def test_cross_tenant_reads_and_writes_are_impossible(api, tenant) -> None:
    # Tenant B with a campaign, an idea and a voter.
    token = _current_tenant.set(None)
    try:
        b = await create_tenant("Brand B")
        with tenant_scope(b.tenant.id):
            b_author, b_voter = await factories.members(2)
            b_campaign = await factories.campaign()
            b_idea = await factories.idea(b_author, b_campaign)
            await votes.cast_vote(b_voter, b_idea.id, VoteValue.UP)
            b_ids = await api.data(
                """query($i: ID!) { idea(id: $i) { id author { id } campaign { id } } }""",
                {"i": encode_id("Idea", b_idea.id)},
                sk=b.secret_key,
            )
    finally:
        _current_tenant.reset(token)
    idea_gid = b_ids["idea"]["id"]
    member_gid = b_ids["idea"]["author"]["id"]
    campaign_gid = b_ids["idea"]["campaign"]["id"]

    a_sk, a_pk = tenant.secret_key, tenant.publishable_key
    for gid in (idea_gid, member_gid, campaign_gid):
        data = await api.data("query($i: ID!) { node(id: $i) { id } }", {"i": gid}, sk=a_sk)
        assert data["node"] is None
    reads = await api.data(
        """query($i: ID!, $m: ID!, $c: ID!, $s: String!) { idea(id: $i) { id } member(id: $m) { id }
           campaign(id: $c) { id } bySlug: campaign(slug: $s) { id }
           ideas(campaignId: $c) { totalCount } campaigns { totalCount } members { totalCount } }""",
        {"i": idea_gid, "m": member_gid, "c": campaign_gid, "s": b_campaign.slug},
        sk=a_sk,
    )
    assert reads == {
        "idea": None,
        "member": None,
        "campaign": None,
        "bySlug": None,
        "ideas": {"totalCount": 0},
        "campaigns": {"totalCount": 0},
        "members": {"totalCount": 0},
    }

    # Writes with A's member token against B's idea and campaign: not found, nothing written.
    a_token = member_token(tenant, "cus_a1")
    voted = await api.data(
        """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { idea { id }
             userErrors { field code } } }""",
        {"i": idea_gid},
        pk=a_pk,
        token=a_token,
    )
    assert voted["vote"] == {"idea": None, "userErrors": [{"field": "ideaId", "code": "NOT_FOUND"}]}
    submitted = await api.data(
        """mutation($c: ID!) { submitIdea(input: {campaignId: $c, title: "Into B", body: "x"}) {
             idea { id } userErrors { field code } } }""",
        {"c": campaign_gid},
        pk=a_pk,
        token=a_token,
    )
    assert submitted["submitIdea"]["userErrors"] == [{"field": "campaignId", "code": "NOT_FOUND"}]
    status = await api.data(
        """mutation($i: ID!) { setIdeaStatus(input: {ideaId: $i, status: DECLINED}) {
             idea { id } userErrors { code } } }""",
        {"i": idea_gid},
        sk=a_sk,
    )
    assert status["setIdeaStatus"]["userErrors"] == [{"code": "NOT_FOUND"}]
    renamed = await api.data(
        """mutation($c: ID!) { updateCampaign(input: {id: $c, title: "Owned"}) {
             campaign { id } userErrors { code } } }""",
        {"c": campaign_gid},
        sk=a_sk,
    )
    assert renamed["updateCampaign"]["userErrors"] == [{"code": "NOT_FOUND"}]
    # B's data is unchanged.
    token = _current_tenant.set(None)
    try:
        with tenant_scope(b.tenant.id):
            idea = await Idea.get(id=b_idea.id)
            assert (idea.upvotes, idea.status.value) == (1, "NEW")
            assert (await Campaign.get(id=b_campaign.id)).title == b_campaign.title
            assert await Vote.filter(idea_id=b_idea.id).count() == 1
            assert await Idea.filter(campaign_id=b_campaign.id).count() == 1
            assert await Member.filter(external_id="cus_a1").count() == 0
    finally:
        _current_tenant.reset(token)


async def test_member_token_of_tenant_a_is_not_valid_with_tenant_b_key(api, tenant) -> None:
    token = _current_tenant.set(None)
    try:
        b = await create_tenant("Brand C")
    finally:
        _current_tenant.reset(token)
    a_token = member_token(tenant, "cus_roaming")
    body = await api.gql("{ viewer { id } }", pk=b.publishable_key, token=a_token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
