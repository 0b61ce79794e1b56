"""node(id) for every Node type and every caller: the model's one visibility rule decides.

Rows: a visible one of each type plus the special cases (draft campaign, hidden and merged ideas,
an idea of a draft campaign, a hidden comment, a draft campaign's threshold). Callers: the public
(publishable key), a member (key + token), the brand (secret key), and another tenant's keys.
The same rows are read through the typed root fields too, so ``node`` cannot disagree with them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.types.ids import encode_id
from engine import merges
from engine.models import Comment, DomainEvent, Flag, FlagReason, Idea, Threshold, ThresholdMetric
from engine.tenancy import _current_tenant
from engine.tenants import NewTenant, create_tenant
from engine.thresholds import ThresholdSpec
from tests import factories
from tests.api.conftest import Api, member_token
from webhooks.models import WebhookDelivery, WebhookEndpoint

ROLES = ("public", "member", "brand", "other_pk", "other_sk")
PUBLIC_TOO = {"public": True, "member": True, "brand": True, "other_pk": False, "other_sk": False}
BRAND_ONLY = {"public": False, "member": False, "brand": True, "other_pk": False, "other_sk": False}
NOBODY = dict.fromkeys(ROLES, False)

# case -> who sees it
EXPECTED = {
    "Campaign:open": PUBLIC_TOO,
    "Campaign:draft": BRAND_ONLY,
    "Idea:plain": PUBLIC_TOO,
    "Idea:hidden": BRAND_ONLY,
    "Idea:merged": PUBLIC_TOO,
    "Idea:frozen": PUBLIC_TOO,
    "Idea:in_draft": BRAND_ONLY,
    "Comment:plain": PUBLIC_TOO,
    "Comment:hidden": BRAND_ONLY,
    "Comment:on_hidden_idea": BRAND_ONLY,
    "Member:plain": PUBLIC_TOO,
    "Threshold:open": PUBLIC_TOO,
    "Threshold:draft": BRAND_ONLY,
    "Flag:open": BRAND_ONLY,
    "WebhookEndpoint:plain": BRAND_ONLY,
    "WebhookDelivery:plain": BRAND_ONLY,
    "Idea:missing": NOBODY,
}


async def _rows(tenant: NewTenant) -> dict[str, str]:
    author, other = await factories.members(2)
    spec = ThresholdSpec(metric=ThresholdMetric.NET_VOTES, value=10)
    open_c = await factories.campaign(thresholds=(spec,))
    draft = await factories.campaign(open=False, thresholds=(spec,))
    plain = await factories.idea(author, open_c)
    hidden = await factories.idea(author, open_c)
    merged = await factories.idea(author, open_c)
    frozen = await factories.idea(author, open_c)
    await merges.merge_ideas(merged.id, plain.id)
    # Submitting needs an open campaign; a row in a draft one can only come from the database.
    in_draft = await Idea.create(
        tenant_id=tenant.tenant.id, campaign_id=draft.id, author_id=author.id, title="t", body="b"
    )
    comment = await Comment.create(
        tenant_id=tenant.tenant.id, idea_id=plain.id, author_id=other.id, body="fine"
    )
    hidden_comment = await Comment.create(
        tenant_id=tenant.tenant.id, idea_id=plain.id, author_id=other.id, body="no", hidden=True
    )
    on_hidden = await Comment.create(
        tenant_id=tenant.tenant.id, idea_id=hidden.id, author_id=other.id, body="x"
    )
    await Idea.filter(id=hidden.id).update(hidden=True)
    await Idea.filter(id=frozen.id).update(frozen=True)
    flag = await Flag.create(
        tenant_id=tenant.tenant.id, idea_id=plain.id, reporter_id=other.id, reason=FlagReason.SPAM
    )
    endpoint = await WebhookEndpoint.create(
        tenant_id=tenant.tenant.id, url="https://example.com/hook", secret="whsec_x"
    )
    event = await DomainEvent.create(
        tenant_id=tenant.tenant.id,
        public_id=f"evt_node_{tenant.tenant.id}",
        type="webhook.test",
        occurred_at=datetime.now(UTC),
        data={},
    )
    delivery = await WebhookDelivery.create(
        tenant_id=tenant.tenant.id, endpoint_id=endpoint.id, event_id=event.id, event_type="x"
    )
    open_t = await Threshold.get(campaign_id=open_c.id)
    draft_t = await Threshold.get(campaign_id=draft.id)
    ids = {
        "Campaign:open": ("Campaign", open_c.id),
        "Campaign:draft": ("Campaign", draft.id),
        "Idea:plain": ("Idea", plain.id),
        "Idea:hidden": ("Idea", hidden.id),
        "Idea:merged": ("Idea", merged.id),
        "Idea:frozen": ("Idea", frozen.id),
        "Idea:in_draft": ("Idea", in_draft.id),
        "Comment:plain": ("Comment", comment.id),
        "Comment:hidden": ("Comment", hidden_comment.id),
        "Comment:on_hidden_idea": ("Comment", on_hidden.id),
        "Member:plain": ("Member", author.id),
        "Threshold:open": ("Threshold", open_t.id),
        "Threshold:draft": ("Threshold", draft_t.id),
        "Flag:open": ("Flag", flag.id),
        "WebhookEndpoint:plain": ("WebhookEndpoint", endpoint.id),
        "WebhookDelivery:plain": ("WebhookDelivery", delivery.id),
        "Idea:missing": ("Idea", 2**40),
    }
    return {case: encode_id(kind, pk) for case, (kind, pk) in ids.items()}


async def _callers(tenant: NewTenant) -> dict[str, dict[str, str]]:
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Another brand {tenant.tenant.id}")
    finally:
        _current_tenant.reset(token)
    return {
        "public": {"pk": tenant.publishable_key},
        "member": {"pk": tenant.publishable_key, "token": member_token(tenant, "cus_matrix")},
        "brand": {"sk": tenant.secret_key},
        "other_pk": {"pk": other.publishable_key},
        "other_sk": {"sk": other.secret_key},
    }


NODE = """query($i: ID!) { node(id: $i) { __typename id
  ... on Campaign { title campaignStatus: status } ... on Idea { title status }
  ... on Comment { body }
  ... on Member { displayName } ... on Threshold { name } } }"""
TYPED = {
    "Campaign": "query($i: ID!) { one: campaign(id: $i) { id title status } }",
    "Idea": "query($i: ID!) { one: idea(id: $i) { id title status } }",
    "Member": "query($i: ID!) { one: member(id: $i) { id displayName } }",
}


@pytest.mark.parametrize("role", ROLES)
async def test_node_shows_each_type_to_exactly_who_may_see_it(
    api: Api, tenant: NewTenant, role: str
) -> None:
    rows = await _rows(tenant)
    auth = (await _callers(tenant))[role]
    seen: dict[str, bool] = {}
    for case, gid in rows.items():
        data = await api.data(NODE, {"i": gid}, **auth)
        node = data["node"]
        seen[case] = node is not None
        if node is not None:
            assert node["id"] == gid
            assert node["__typename"] == case.split(":")[0]
        kind = case.split(":")[0]
        if kind in TYPED and case != "Idea:missing":
            typed = await api.data(TYPED[kind], {"i": gid}, **auth)
            assert (typed["one"] is not None) == seen[case], (case, typed)
    assert seen == {case: who[role] for case, who in EXPECTED.items()}
