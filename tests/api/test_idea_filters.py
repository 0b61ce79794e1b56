"""ideas(flagged, hidden): the console's moderation filters, per role, with and without read plans;
mergePreview and campaignAlerts, the console's other brand-only reads."""

from __future__ import annotations

from datetime import timedelta

from api.types.ids import encode_id
from engine import alerts, merges, moderation, votes
from engine.clock import utcnow
from engine.models import FlagReason, Member
from engine.tenancy import _current_tenant
from engine.tenants import NewTenant, create_tenant
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import Api, member_token
from tests.api.test_read_plans import plans as plans_of

LIST = """query($f: Boolean, $h: Boolean, $c: ID) {
  ideas(flagged: $f, hidden: $h, campaignId: $c, orderBy: NEW) { totalCount edges { node { title } } } }"""


async def _moderated_campaign() -> str:
    """Three ideas: one flagged (open), one hidden after an upheld report, one untouched."""
    author, reporter = await factories.members(2)
    await Member.filter(id=reporter.id).update(level=1)
    reporter = await Member.get(id=reporter.id)
    campaign = await factories.campaign()
    flagged = await factories.idea(author, campaign, title="Flagged one")
    hidden = await factories.idea(author, campaign, title="Hidden one")
    await factories.idea(author, campaign, title="Plain one")
    await moderation.flag(reporter, flagged.id, FlagReason.OTHER, "check this")
    report = await moderation.flag(reporter, hidden.id, FlagReason.SPAM)
    await moderation.resolve_flag(report.id, moderation.Decision.UPHOLD, hide=True)
    return encode_id("Campaign", campaign.id)


def _titles(data: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(e["node"]["title"] for e in data["ideas"]["edges"])


async def _codes(api: Api, variables: dict, **auth: str) -> list[str]:  # type: ignore[type-arg]
    body = await api.gql(LIST, variables, **auth)
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_the_brand_filters_flagged_and_hidden_ideas(api, tenant) -> None:
    c = await _moderated_campaign()
    sk = tenant.secret_key
    plain = await api.data(LIST, {"c": c}, sk=sk)
    assert _titles(plain) == ["Flagged one", "Plain one"]  # hidden ideas stay out of lists
    assert _titles(await api.data(LIST, {"c": c, "h": True}, sk=sk)) == ["Hidden one"]
    assert (await api.data(LIST, {"c": c, "h": True}, sk=sk))["ideas"]["totalCount"] == 1
    assert _titles(await api.data(LIST, {"c": c, "f": True}, sk=sk)) == ["Flagged one"]
    assert _titles(await api.data(LIST, {"c": c, "f": False}, sk=sk)) == ["Plain one"]
    assert _titles(await api.data(LIST, {"c": c, "h": False}, sk=sk)) == _titles(plain)
    # The upheld report on the hidden idea is closed, so it is hidden but not flagged.
    assert _titles(await api.data(LIST, {"c": c, "h": True, "f": True}, sk=sk)) == []


async def test_publishable_keys_and_members_may_not_use_them(api, tenant) -> None:
    c = await _moderated_campaign()
    pk = tenant.publishable_key
    token = member_token(tenant, "cus_filter")
    for auth in ({"pk": pk}, {"pk": pk, "token": token}):
        assert await _codes(api, {"c": c, "h": True}, **auth) == ["FORBIDDEN"]
        assert await _codes(api, {"c": c, "f": True}, **auth) == ["FORBIDDEN"]
        assert await _codes(api, {"c": c, "f": False}, **auth) == ["FORBIDDEN"]
        body = await api.gql(LIST, {"c": c, "h": True}, **auth)
        assert "secret key or a console session" in body["errors"][0]["message"]
        # hidden: false is the plain list everyone gets.
        assert _titles(await api.data(LIST, {"c": c, "h": False}, **auth)) == [
            "Flagged one",
            "Plain one",
        ]


async def test_another_tenant_sees_none_of_them(api, tenant) -> None:
    c = await _moderated_campaign()
    token = _current_tenant.set(None)
    try:
        other: NewTenant = await create_tenant("Brand elsewhere")
    finally:
        _current_tenant.reset(token)
    for variables in ({"h": True}, {"f": True}, {"c": c, "h": True}):
        assert _titles(await api.data(LIST, variables, sk=other.secret_key)) == []


async def test_read_plans_step_aside_for_the_moderation_filters(api, tenant) -> None:
    """A plan learned from the plain list must not answer the filtered one (nor awaitingResponse,
    which plans ignored before: their SQL has no such filter)."""
    c = await _moderated_campaign()
    sk, pk = tenant.secret_key, tenant.publishable_key
    plans = plans_of(api)
    for _ in range(2):  # learn, then answer by plan
        assert _titles(await api.data(LIST, {"c": c}, sk=sk)) == ["Flagged one", "Plain one"]
        assert _titles(await api.data(LIST, {"c": c}, pk=pk)) == ["Flagged one", "Plain one"]
    hits = plans.hits
    assert hits >= 2
    assert _titles(await api.data(LIST, {"c": c, "h": True}, sk=sk)) == ["Hidden one"]
    assert _titles(await api.data(LIST, {"c": c, "f": False}, sk=sk)) == ["Plain one"]
    assert await _codes(api, {"c": c, "h": True}, pk=pk) == ["FORBIDDEN"]
    awaiting = (
        "query($c: ID, $a: Boolean!) { ideas(campaignId: $c, awaitingResponse: $a) { totalCount } }"
    )
    for _ in range(2):
        assert (await api.data(awaiting, {"c": c, "a": False}, sk=sk))["ideas"]["totalCount"] == 2
    assert (await api.data(awaiting, {"c": c, "a": True}, sk=sk))["ideas"]["totalCount"] == 0
    assert plans.hits == hits + 1  # only the unfiltered awaiting list was the plan's


PREVIEW = """query($s: ID!, $t: ID!) { mergePreview(ideaId: $s, intoIdeaId: $t) {
  movedUpvotes movedPledges movedSupporters countedOnce sourceComments
  source { upvotes } target { upvotes } targetAfter { upvotes netVotes supporters } } }"""


async def test_merge_preview_is_the_brands(api, tenant) -> None:
    author, other_author, a, b = await factories.members(4)
    campaign = await factories.campaign()
    source = await factories.idea(author, campaign)
    target = await factories.idea(other_author, campaign)
    for voter in (a, b):
        await votes.cast_vote(voter, source.id, VoteValue.UP)
    await votes.cast_vote(a, target.id, VoteValue.UP)
    ids = {"s": encode_id("Idea", source.id), "t": encode_id("Idea", target.id)}
    preview = (await api.data(PREVIEW, ids, sk=tenant.secret_key))["mergePreview"]
    assert preview == {
        "movedUpvotes": 1,
        "movedPledges": 0,
        "movedSupporters": 1,
        "countedOnce": 1,
        "sourceComments": 0,
        "source": {"upvotes": 2},
        "target": {"upvotes": 1},
        "targetAfter": {"upvotes": 2, "netVotes": 2, "supporters": 2},
    }
    refused = await api.gql(PREVIEW, ids, pk=tenant.publishable_key)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    merged_list = "query($c: ID) { ideas(campaignId: $c, merged: true) { edges { node { id mergedInto { id } } } } }"
    c = {"c": encode_id("Campaign", campaign.id)}
    assert (await api.data(merged_list, c, sk=tenant.secret_key))["ideas"]["edges"] == []
    await merges.merge_ideas(source.id, target.id)
    listed = (await api.data(merged_list, c, sk=tenant.secret_key))["ideas"]["edges"]
    assert listed == [{"node": {"id": ids["s"], "mergedInto": {"id": ids["t"]}}}]
    refused = await api.gql(merged_list, c, pk=tenant.publishable_key)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    same = await api.gql(PREVIEW, {"s": ids["s"], "t": ids["s"]}, sk=tenant.secret_key)
    assert same["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "intoIdeaId",
        "reason": "INVALID",
    }


ALERTS = """query($c: ID!) { campaignAlerts(campaignId: $c) { kind period raisedAt figures { name value } } }"""


async def test_campaign_alerts_lists_what_was_raised(api, tenant) -> None:
    people = await factories.members(6)
    campaign = await factories.campaign()
    for person in people:
        await factories.idea(person, campaign)
    c = encode_id("Campaign", campaign.id)
    assert (await api.data(ALERTS, {"c": c}, sk=tenant.secret_key))["campaignAlerts"] == []
    next_week = utcnow() + timedelta(days=7)
    assert await alerts.evaluate_campaign(campaign, next_week) == ["campaign.participation_dropped"]
    listed = (await api.data(ALERTS, {"c": c}, sk=tenant.secret_key))["campaignAlerts"]
    assert [(a["kind"], a["period"]) for a in listed] == [
        ("campaign.participation_dropped", alerts.period_of(next_week))
    ]
    figures = {f["name"]: f["value"] for f in listed[0]["figures"]}
    assert figures["activeMembers"] == 0 and figures["activeMembersWeekBefore"] == 6
    assert figures["change"] == -1.0 and figures["threshold"] == -0.3
    refused = await api.gql(ALERTS, {"c": c}, pk=tenant.publishable_key)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    token = _current_tenant.set(None)
    try:
        other = await create_tenant("Brand far away")
    finally:
        _current_tenant.reset(token)
    missing = await api.gql(ALERTS, {"c": c}, sk=other.secret_key)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
