"""Bad input gets userErrors or a coded GraphQL error, never a traceback, and writes nothing."""

from __future__ import annotations

import pytest

from engine import campaigns
from engine.models import CampaignStatus, DomainEvent, Idea, Vote
from tests import factories
from tests.api.conftest import member_token

SUBMIT = """mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { idea { id }
  userErrors { field code message } } }"""


async def _gid(api, tenant, type_name: str, slug: str) -> str:
    data = await api.data(
        "query($s: String!) { campaign(slug: $s) { id } }", {"s": slug}, sk=tenant.secret_key
    )
    return data["campaign"]["id"]


@pytest.mark.parametrize(
    ("title", "body", "field", "code"),
    [
        ("", "body", "title", "REQUIRED"),
        ("   ", "body", "title", "REQUIRED"),
        ("x" * 141, "body", "title", "TOO_LONG"),
        ("ab", "body", "title", "TOO_SHORT"),
        ("A fine title", "", "body", "REQUIRED"),
        ("A fine title", "y" * 10_001, "body", "TOO_LONG"),
    ],
)
async def test_idea_text_limits(api, tenant, title, body, field, code) -> None:
    campaign = await factories.campaign()
    gid = await _gid(api, tenant, "Campaign", campaign.slug)
    data = await api.data(
        SUBMIT,
        {"input": {"campaignId": gid, "title": title, "body": body}},
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_writer"),
    )
    errors = data["submitIdea"]["userErrors"]
    assert data["submitIdea"]["idea"] is None
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert errors[0]["message"]
    assert await Idea.all().count() == 0


async def test_unknown_and_malformed_ids(api, tenant) -> None:
    token = member_token(tenant, "cus_x")
    for bad in ("Q2FtcGFpZ246OTk5OTk5", "not-base64!", "SWRlYTox", ""):
        data = await api.data(
            SUBMIT,
            {"input": {"campaignId": bad, "title": "Title ok", "body": "b"}},
            pk=tenant.publishable_key,
            token=token,
        )
        assert data["submitIdea"]["userErrors"][0]["code"] == "NOT_FOUND", bad
    data = await api.data(
        'query { idea(id: "bm9wZQ==") { id } node(id: "SWRlYToxMjM0NQ==") { id } }',
        sk=tenant.secret_key,
    )
    assert data == {"idea": None, "node": None}


async def test_wrong_enum_value_is_a_coded_error(api, tenant) -> None:
    body = await api.gql(
        """mutation { vote(input: {ideaId: "x", value: SIDEWAYS}) {
                              userErrors { code } } }""",
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_y"),
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = await api.gql(
        """mutation($v: VoteValue!) { vote(input: {ideaId: "x", value: $v}) {
                              userErrors { code } } }""",
        {"v": "MAYBE"},
        pk=tenant.publishable_key,
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = await api.gql("{ ideas(first: ) }", sk=tenant.secret_key)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_page_size_is_capped(api, tenant) -> None:
    body = await api.gql("{ ideas(first: 101) { totalCount } }", sk=tenant.secret_key)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "100" in error["message"]


async def test_closed_campaign_and_unverified_member(api, tenant) -> None:
    author = await factories.member()
    closed = await factories.campaign()
    await factories.idea(author, closed)
    await campaigns.set_campaign_status(closed.id, CampaignStatus.CLOSED)
    idea_gid = (
        await api.data(
            "query($c: ID!) { ideas(campaignId: $c) { edges { node { id } } } }",
            {"c": await _gid(api, tenant, "Campaign", closed.slug)},
            sk=tenant.secret_key,
        )
    )["ideas"]["edges"][0]["node"]["id"]
    vip = await factories.campaign(verified_only=True)
    # Consumers (reputation) record events of their own: let them finish before counting.
    await api.background.queue.drain()
    events_before = await DomainEvent.all().count()
    data = await api.data(
        """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { idea { id }
             userErrors { code } } }""",
        {"i": idea_gid},
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_late"),
    )
    assert data["vote"] == {"idea": None, "userErrors": [{"code": "CAMPAIGN_NOT_OPEN"}]}

    data = await api.data(
        SUBMIT,
        {
            "input": {
                "campaignId": await _gid(api, tenant, "Campaign", vip.slug),
                "title": "Members only",
                "body": "b",
            }
        },
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_guest", verified=False),
    )
    assert data["submitIdea"]["userErrors"][0]["code"] == "NOT_ELIGIBLE"
    assert await Vote.all().count() == 0
    assert await Idea.filter(campaign_id=vip.id).count() == 0
    await api.background.queue.drain()
    assert await DomainEvent.all().count() == events_before


async def test_terms_must_be_accepted_at_the_current_version(api, tenant) -> None:
    campaign = await factories.campaign(terms_text="You license your idea to us.")
    gid = await _gid(api, tenant, "Campaign", campaign.slug)
    token = member_token(tenant, "cus_terms")
    base = {"campaignId": gid, "title": "With terms", "body": "b"}
    data = await api.data(SUBMIT, {"input": base}, pk=tenant.publishable_key, token=token)
    assert data["submitIdea"]["userErrors"][0]["code"] == "TERMS_NOT_ACCEPTED"
    await api.data(
        """mutation($c: ID!) { updateCampaign(input: {id: $c, termsText: "New terms"}) {
                      campaign { terms { version } } userErrors { code } } }""",
        {"c": gid},
        sk=tenant.secret_key,
    )
    data = await api.data(
        SUBMIT,
        {"input": {**base, "acceptedTermsVersion": 1}},
        pk=tenant.publishable_key,
        token=token,
    )
    assert data["submitIdea"]["userErrors"][0]["code"] == "TERMS_VERSION_MISMATCH"
    data = await api.data(
        SUBMIT,
        {"input": {**base, "acceptedTermsVersion": 2}},
        pk=tenant.publishable_key,
        token=token,
    )
    assert data["submitIdea"]["userErrors"] == []
    assert (await Idea.get(campaign_id=campaign.id)).terms_version == 2


async def test_unexpected_errors_are_masked(api, tenant, monkeypatch) -> None:
    from engine import idea_list

    async def boom(*args, **kwargs):
        raise RuntimeError('relation "idea" does not exist: SELECT secret FROM idea')

    monkeypatch.setattr(idea_list, "list_ideas", boom)
    response = await api.post("{ ideas { totalCount } }", sk=tenant.secret_key)
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "SELECT" not in response.text and "Traceback" not in response.text


async def test_campaign_input_validation(api, tenant) -> None:
    data = await api.data(
        """mutation { createCampaign(input: {title: "", slug: "Bad Slug!", voteBudget: 0,
             opensAt: "2026-05-01T00:00:00Z", closesAt: "2026-04-01T00:00:00Z",
             thresholds: [{metric: AVERAGE_SCORE, value: 4}]}) {
             campaign { id } userErrors { field code } } }""",
        sk=tenant.secret_key,
    )
    errors = {(e["field"], e["code"]) for e in data["createCampaign"]["userErrors"]}
    assert errors == {
        ("title", "REQUIRED"),
        ("slug", "INVALID"),
        ("closesAt", "INVALID"),
        ("voteBudget", "OUT_OF_RANGE"),
        ("thresholds.0", "WRONG_CAMPAIGN_MODE"),
    }
    assert data["createCampaign"]["campaign"] is None


async def test_hot_half_life_out_of_bounds_is_a_user_error(api, tenant) -> None:
    create = """mutation($h: Float!) { createCampaign(input: {title: "Hot", hotHalfLifeHours: $h}) {
      campaign { id hotHalfLifeHours } userErrors { field code } } }"""
    data = await api.data(create, {"h": 0.1}, sk=tenant.secret_key)
    assert data["createCampaign"] == {
        "campaign": None,
        "userErrors": [{"field": "hotHalfLifeHours", "code": "OUT_OF_RANGE"}],
    }
    data = await api.data(create, {"h": 12.0}, sk=tenant.secret_key)
    assert data["createCampaign"]["campaign"]["hotHalfLifeHours"] == 12.0
    gid = data["createCampaign"]["campaign"]["id"]
    update = """mutation($c: ID!, $h: Float) { updateCampaign(input: {id: $c, hotHalfLifeHours: $h})
      { campaign { hotHalfLifeHours } userErrors { field code } } }"""
    data = await api.data(update, {"c": gid, "h": 9000.0}, sk=tenant.secret_key)
    assert data["updateCampaign"]["userErrors"] == [
        {"field": "hotHalfLifeHours", "code": "OUT_OF_RANGE"}
    ]
    data = await api.data(update, {"c": gid, "h": None}, sk=tenant.secret_key)  # null: leave it
    assert data["updateCampaign"]["campaign"]["hotHalfLifeHours"] == 12.0
    data = await api.data(update, {"c": gid, "h": 48.0}, sk=tenant.secret_key)
    assert data["updateCampaign"] == {"campaign": {"hotHalfLifeHours": 48.0}, "userErrors": []}
