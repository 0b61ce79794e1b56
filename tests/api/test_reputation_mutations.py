"""updateReputationRules and awardBadge: secret key only, validation as userErrors with codes."""

from __future__ import annotations

import pytest

from api.types.ids import encode_id
from tests import factories
from tests.api.conftest import member_token

UPDATE = """mutation($input: UpdateReputationRulesInput!) { updateReputationRules(input: $input) {
  rules { points { upvoteReceived ideaSubmitted } dailyVoteCap levels { number name threshold } }
  userErrors { field code } } }"""
AWARD = """mutation($input: AwardBadgeInput!) { awardBadge(input: $input) {
  badge { code name description kind } member { displayName badges { code } } awarded
  userErrors { field code } } }"""


async def test_update_rules_and_see_them_apply(api, tenant) -> None:
    data = await api.data(
        UPDATE,
        {
            "input": {
                "points": {"upvoteReceived": 12},
                "dailyVoteCap": 50,
                "levels": [
                    {"name": "Fan", "threshold": 0},
                    {"name": "Friend", "threshold": 5},
                    {"name": "Family", "threshold": 50},
                ],
            }
        },
        sk=tenant.secret_key,
    )
    payload = data["updateReputationRules"]
    assert payload["userErrors"] == []
    assert payload["rules"]["points"] == {"upvoteReceived": 12, "ideaSubmitted": 5}
    assert payload["rules"]["dailyVoteCap"] == 50
    assert [lv["name"] for lv in payload["rules"]["levels"]] == ["Fan", "Friend", "Family"]
    author = await factories.member(external_id="cus_author")
    await factories.idea(author, await factories.campaign())
    await api.background.queue.drain()
    viewer = await api.data(
        "{ viewer { reputation level { number name nextThreshold } } }",
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_author"),
    )
    assert viewer["viewer"] == {
        "reputation": 5,
        "level": {"number": 1, "name": "Friend", "nextThreshold": 50},
    }
    reset = await api.data(UPDATE, {"input": {"resetToDefaults": True}}, sk=tenant.secret_key)
    assert reset["updateReputationRules"]["rules"]["points"]["upvoteReceived"] == 10


async def test_invalid_rules_are_user_errors_and_change_nothing(api, tenant) -> None:
    data = await api.data(
        UPDATE,
        {
            "input": {
                "points": {"downvoteReceived": 5},
                "serialVoteLimit": 0,
                "levels": [{"name": "A", "threshold": 3}, {"name": "", "threshold": 2}],
            }
        },
        sk=tenant.secret_key,
    )
    payload = data["updateReputationRules"]
    assert payload["rules"] is None
    assert {(e["field"], e["code"]) for e in payload["userErrors"]} == {
        ("points.downvoteReceived", "OUT_OF_RANGE"),
        ("serialVoteLimit", "OUT_OF_RANGE"),
        ("levels[0].threshold", "INVALID"),
        ("levels[1].name", "INVALID"),
        ("levels[1].threshold", "INVALID"),
    }
    rules = await api.data("{ reputationRules { serialVoteLimit } }", sk=tenant.secret_key)
    assert rules["reputationRules"]["serialVoteLimit"] == 5


async def test_award_badge_once_per_member_and_code(api, tenant) -> None:
    member = await factories.member()
    variables = {
        "input": {
            "memberId": encode_id("Member", member.id),
            "code": "beta-tester",
            "name": "Beta tester",
            "description": "Tried the app first",
        }
    }
    first = (await api.data(AWARD, variables, sk=tenant.secret_key))["awardBadge"]
    assert first == {
        "badge": {
            "code": "beta-tester",
            "name": "Beta tester",
            "description": "Tried the app first",
            "kind": "BRAND",
        },
        "member": {"displayName": member.display_name, "badges": [{"code": "beta-tester"}]},
        "awarded": True,
        "userErrors": [],
    }
    again = (await api.data(AWARD, variables, sk=tenant.secret_key))["awardBadge"]
    assert again["awarded"] is False and again["badge"]["code"] == "beta-tester"


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"code": "Beta Tester"}, {("code", "INVALID")}),
        ({"code": "first-idea"}, {("code", "ALREADY_EXISTS")}),
        ({"name": ""}, {("name", "REQUIRED")}),
        ({"description": "x" * 301}, {("description", "TOO_LONG")}),
        ({"memberId": encode_id("Idea", 1)}, {("memberId", "NOT_FOUND")}),
        ({"memberId": encode_id("Member", 2**62)}, {("memberId", "NOT_FOUND")}),
    ],
)
async def test_award_badge_bad_input(api, tenant, overrides, errors) -> None:
    member = await factories.member()
    variables = {
        "input": {
            "memberId": encode_id("Member", member.id),
            "code": "vip",
            "name": "VIP",
            **overrides,
        }
    }
    payload = (await api.data(AWARD, variables, sk=tenant.secret_key))["awardBadge"]
    assert payload["badge"] is None and payload["awarded"] is False
    assert {(e["field"], e["code"]) for e in payload["userErrors"]} == errors


async def test_secret_key_mutations_refuse_publishable_keys_and_members(api, tenant) -> None:
    member = await factories.member(external_id="cus_sneaky")
    award = {"input": {"memberId": encode_id("Member", member.id), "code": "vip", "name": "VIP"}}
    token = member_token(tenant, "cus_sneaky")
    for auth in ({"pk": tenant.publishable_key}, {"pk": tenant.publishable_key, "token": token}):
        body = await api.gql(UPDATE, {"input": {"dailyVoteCap": 10_000}}, **auth)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["data"] is None
        body = await api.gql(AWARD, award, **auth)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    rules = await api.data("{ reputationRules { dailyVoteCap } }", pk=tenant.publishable_key)
    assert rules["reputationRules"]["dailyVoteCap"] == 200
    badges = await api.data(
        "query($id: ID!) { member(id: $id) { badges { code } } }",
        {"id": encode_id("Member", member.id)},
        sk=tenant.secret_key,
    )
    assert badges["member"]["badges"] == []
