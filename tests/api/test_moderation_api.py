"""flag / moderationQueue / resolveFlag / moderationLog through GraphQL."""

from __future__ import annotations

from engine.models import Member
from tests import factories
from tests.api.conftest import member_token

FLAG = """mutation($i: ID!, $r: FlagReason!) { flag(input: {ideaId: $i, reason: $r, note: "looks like our logo"}) {
  flag { id reason status } userErrors { field code } } }"""


async def test_flag_review_and_resolve(api, tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    await factories.idea(author, campaign, title="Logo tee")
    pk, sk = tenant.publishable_key, tenant.secret_key
    idea_gid = (await api.data("{ ideas { edges { node { id } } } }", pk=pk))["ideas"]["edges"][0][
        "node"
    ]["id"]

    newcomer = member_token(tenant, "cus_new")
    refused = await api.data(FLAG, {"i": idea_gid, "r": "IP_INFRINGEMENT"}, pk=pk, token=newcomer)
    assert refused["flag"] == {
        "flag": None,
        "userErrors": [{"field": None, "code": "LEVEL_TOO_LOW"}],
    }

    await Member.filter(external_id="cus_new").update(level=1)
    flagged = await api.data(FLAG, {"i": idea_gid, "r": "IP_INFRINGEMENT"}, pk=pk, token=newcomer)
    assert flagged["flag"]["flag"]["status"] == "OPEN"
    frozen = await api.data("query($i: ID!) { idea(id: $i) { frozen } }", {"i": idea_gid}, pk=pk)
    assert frozen["idea"]["frozen"] is True

    # The queue is the brand's: a publishable key is refused.
    body = await api.gql("{ moderationQueue { totalCount } }", pk=pk)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    queue = await api.data(
        """{ moderationQueue { totalCount edges { node { id reason note
        reporter { externalId } idea { title frozen hidden } } } } }""",
        sk=sk,
    )
    assert queue["moderationQueue"]["totalCount"] == 1
    node = queue["moderationQueue"]["edges"][0]["node"]
    assert node["reporter"]["externalId"] == "cus_new"
    assert node["idea"] == {"title": "Logo tee", "frozen": True, "hidden": False}

    resolved = await api.data(
        """mutation($f: ID!) { resolveFlag(input: {flagId: $f, decision: UPHOLD,
        note: "infringes", hide: true}) { flag { status resolutionNote } idea { hidden frozen }
        userErrors { code } } }""",
        {"f": node["id"]},
        sk=sk,
    )
    assert resolved["resolveFlag"]["flag"] == {"status": "UPHELD", "resolutionNote": "infringes"}
    assert resolved["resolveFlag"]["idea"] == {"hidden": True, "frozen": True}
    # Hidden ideas disappear for the public.
    assert (await api.data("query($i: ID!) { idea(id: $i) { id } }", {"i": idea_gid}, pk=pk))[
        "idea"
    ] is None
    log = await api.data(
        "{ moderationLog { edges { node { action actorKind actorLabel actor { externalId } } } } }",
        sk=sk,
    )
    actions = [
        (e["node"]["action"], (e["node"]["actor"] or {}).get("externalId"))
        for e in log["moderationLog"]["edges"]
    ]
    assert actions == [("HIDDEN", None), ("UPHELD", None), ("FROZEN", None), ("FLAGGED", "cus_new")]
    # Every step names its actor: the brand's own secret key (by prefix), the rule, the member.
    key_label = sk[:12] + "…"
    actors = [
        (e["node"]["actorKind"], e["node"]["actorLabel"]) for e in log["moderationLog"]["edges"]
    ]
    assert [kind for kind, _ in actors] == ["SECRET_KEY", "SECRET_KEY", "SYSTEM", "MEMBER"]
    assert actors[0][1].startswith(key_label) and actors[1][1].startswith(key_label)
    assert actors[2][1] == "ip-report-freeze"
    again = await api.data(
        """mutation($f: ID!) { resolveFlag(input: {flagId: $f, decision: DISMISS}) {
        userErrors { code } } }""",
        {"f": node["id"]},
        sk=sk,
    )
    assert again["resolveFlag"]["userErrors"] == [{"code": "INVALID_TRANSITION"}]
