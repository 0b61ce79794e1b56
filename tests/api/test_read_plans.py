"""Compiled read plans answer with the executor's exact bytes, and step aside when they must."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from engine import votes
from engine.votes import VoteValue
from runtime.queue import InProcessJobQueue
from tests import factories
from tests.api.conftest import Api, member_token

HOT = """query Hot($c: ID!, $n: Int) { ideas(campaignId: $c, first: $n, orderBy: TOP) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id title status counts { netVotes upvotes averageScore pledgedQuantity }
  author { id displayName } viewerVote viewerPledge viewerScore hidden } } } }"""


async def drain(api: Api) -> None:
    """Let consumer jobs (reputation) finish: they write, and the reads should see them done."""
    queue = api.background.queue
    assert isinstance(queue, InProcessJobQueue)
    await queue.drain()


def plans(api: Api) -> Any:
    return api.client._transport.app.state.graphql.plans  # type: ignore[attr-defined]


async def _post(api: Api, query: str, variables: dict[str, Any], **auth: Any) -> bytes:
    """One request in a context of its own, as a server runs each request in a task of its own:
    the API puts the caller's tenant in scope for the rest of the request, and in-process requests
    would otherwise leave another brand's tenant in the test's scope."""
    return (await asyncio.create_task(api.post(query, variables, **auth))).content


async def both(api: Api, query: str, variables: dict[str, Any], **auth: Any) -> tuple[bytes, bytes]:
    """(normal, compiled) response bodies of the same request."""
    view = api.client._transport.app.state.graphql  # type: ignore[attr-defined]
    saved = view.plans
    view.plans = None
    try:
        normal = await _post(api, query, variables, **auth)
    finally:
        view.plans = saved
    await _post(api, query, variables, **auth)  # learns the plan
    before = saved.hits
    compiled = await _post(api, query, variables, **auth)
    assert saved.hits == before + 1, "the compiled plan did not answer"
    return normal, compiled


async def test_hot_read_compiled_is_byte_for_byte_the_executor(api: Api, tenant) -> None:
    authors = await factories.members(3)
    campaign = await factories.campaign()
    ideas = [await factories.idea(authors[i % 2], campaign) for i in range(7)]
    for idea in ideas[:4]:
        await votes.cast_vote(authors[2], idea.id, VoteValue.UP)
    await drain(api)
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["id"]
    token = member_token(tenant, authors[2].external_id)
    for auth in (
        {"pk": tenant.publishable_key},
        {"pk": tenant.publishable_key, "token": token},
        {"sk": tenant.secret_key},
    ):
        normal, compiled = await both(api, HOT, {"c": gid, "n": 5}, **auth)
        assert normal == compiled
        assert b'"edges"' in compiled
    metrics = (await api.client.get("/metrics")).text
    assert 'cosource_read_plan_requests_total{outcome="compiled"}' in metrics


# The idea's own plain fields, which every compiled idea selection (read or action) shapes.
IDEA_PLAIN = [
    "id",
    "title",
    "body",
    "status",
    "acceptedTermsVersion",
    "frozen",
    "createdAt",
    "hidden",
]
VIEWER_FIELDS = ["viewerVote", "viewerScore", "viewerPledge"]
IDEA_FIELDS = [
    *IDEA_PLAIN,
    *VIEWER_FIELDS,
    "counts { upvotes downvotes netVotes scoreCount averageScore pledgers pledgedQuantity comments }",
    "author { id displayName reputation createdAt }",
]


async def _forbidden_world(api: Api, tenant) -> dict[str, Any]:
    from engine import merges
    from engine.models import Idea
    from engine.tenancy import _current_tenant, tenant_scope
    from engine.tenants import create_tenant

    people = await factories.members(2)
    campaign = await factories.campaign()
    draft = await factories.campaign(open=False)
    shown, hidden, merged, target = [await factories.idea(people[0], campaign) for _ in range(4)]
    await merges.merge_ideas(merged.id, target.id)
    await Idea.filter(id=hidden.id).update(hidden=True)
    drafted = await Idea.create(
        tenant_id=tenant.tenant.id,
        campaign_id=draft.id,
        author_id=people[0].id,
        title="d",
        body="d",
    )
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Foreign {tenant.tenant.id}")
        with tenant_scope(other.tenant.id):
            foreign = await factories.idea(await factories.member(), await factories.campaign())
    finally:
        _current_tenant.reset(token)
    await drain(api)
    from api.types.ids import encode_id

    def gid(row: Any) -> str:
        return encode_id("Idea", row.id)

    return {
        # The brand lists its draft campaigns' ideas too; nobody lists hidden or merged ones.
        "listed": {gid(shown), gid(target)},
        "listed_by_brand": {gid(shown), gid(target), gid(drafted)},
        "by_id": {  # who may open each by id
            gid(hidden): {"brand"},
            gid(merged): {"public", "member", "brand"},
            gid(drafted): {"brand"},
            gid(foreign): set(),
            gid(shown): {"public", "member", "brand"},
        },
        "token": member_token(tenant, people[1].external_id),
    }


async def test_every_compiled_field_carries_tenant_and_visibility(api: Api, tenant) -> None:
    """Per compiled field and role: the plan answered, its SQL names the tenant and the rule for
    every table it reads, and no hidden, merged, draft-campaign or foreign row comes back."""
    from tests.conftest import count_queries

    world = await _forbidden_world(api, tenant)
    roles = {
        "public": {"pk": tenant.publishable_key},
        "member": {"pk": tenant.publishable_key, "token": world["token"]},
        "brand": {"sk": tenant.secret_key},
    }
    for role, auth in roles.items():
        for field in IDEA_FIELDS:
            listing = f"{{ ideas(first: 50) {{ edges {{ node {{ id {field} }} }} }} }}"
            normal, compiled = await both(api, listing, {}, **auth)
            assert compiled == normal
            with count_queries() as log:
                data = (await api.post(listing, {}, **auth)).json()["data"]
            shown = {e["node"]["id"] for e in data["ideas"]["edges"]}
            expected = world["listed_by_brand" if role == "brand" else "listed"]
            assert shown == expected, (role, field)
            # (the in-process sweeper may run a statement of its own meanwhile)
            (statement,) = [s for s in log.statements if 'FROM "idea" "i"' in s]
            assert '"i"."tenant_id" = ' in statement
            assert '"i"."merged_into_id" IS NULL' in statement and '"i"."hidden" = ' in statement
            if role != "brand":
                assert '"i_p1"."status" <> ' in statement  # the campaign must not be a draft
            for alias in ("a", "v_vote", "v_score", "v_pledge"):
                if f'"{alias}".' in statement:
                    assert f'"{alias}"."tenant_id" = ' in statement, (alias, statement)
            if field.startswith("viewer") and role == "member":
                alias = {"viewerVote": "v_vote", "viewerScore": "v_score"}.get(field, "v_pledge")
                assert f'"{alias}"."member_id" = ' in statement, statement
            for gid, who in world["by_id"].items():
                single = f'{{ idea(id: "{gid}") {{ id {field} }} }}'
                normal, compiled = await both(api, single, {}, **auth)
                assert compiled == normal
                found = orjson.loads(compiled)["data"]["idea"]
                assert (found is not None) == (role in who), (role, field, gid)


async def test_compiled_statements_stay_constant_as_the_page_grows(api: Api, tenant) -> None:
    from tests.conftest import count_queries

    authors = await factories.members(4)
    campaign = await factories.campaign()
    for i in range(110):
        await factories.idea(authors[i % 4], campaign)
    await drain(api)
    token = member_token(tenant, "cus_pages")
    gid = (await api.data("{ campaigns { edges { node { id } } } }", sk=tenant.secret_key))[
        "campaigns"
    ]["edges"][0]["node"]["id"]
    auth = {"pk": tenant.publishable_key, "token": token}
    await both(api, HOT, {"c": gid, "n": 5}, **auth)
    counts = {}
    for size in (10, 50, 100):
        before = plans(api).hits
        with count_queries() as log:
            body = (await api.post(HOT, {"c": gid, "n": size}, **auth)).json()
        assert plans(api).hits == before + 1
        assert len(body["data"]["ideas"]["edges"]) == size
        # (the in-process sweeper may poll the outbox meanwhile: not part of the request)
        counts[size] = len([s for s in log.statements if "domain_event" not in s])
    assert counts == {10: 2, 50: 2, 100: 2}, counts  # the page and its COUNT


async def test_bad_input_gets_the_executors_errors(api: Api, tenant) -> None:
    """A plan never changes what a bad request gets: it steps aside and the executor answers."""
    from datetime import timedelta

    import jwt

    from api.auth import forget_cached_keys
    from engine import keys
    from engine.clock import utcnow
    from engine.models import ApiKey

    campaign = await factories.campaign()
    await factories.idea(await factories.member(), campaign)
    gid = (await api.data("{ campaigns { edges { node { id } } } }", sk=tenant.secret_key))[
        "campaigns"
    ]["edges"][0]["node"]["id"]
    pk = tenant.publishable_key
    await both(api, HOT, {"c": gid, "n": 5}, pk=pk)  # the plan exists from here on
    view = api.client._transport.app.state.graphql  # type: ignore[attr-defined]
    expired = jwt.encode(
        {"sub": "cus_old", "exp": utcnow() - timedelta(minutes=1)},
        tenant.tenant.identity_secret,
        algorithm="HS256",
    )
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"c": gid, "n": 101}, {"pk": pk}),  # first over 100
        ({"c": gid, "n": "five"}, {"pk": pk}),  # wrong variable type
        ({"c": gid}, {"pk": pk}),  # n omitted: null, the default page
        ({"c": "Q2FtcGFpZ246OTk5OTk5", "n": 5}, {"pk": pk}),  # another tenant's or no campaign
        ({"c": "garbage", "n": 5}, {"pk": pk}),  # not an id
        ({"c": gid, "n": 5}, {"pk": pk, "token": expired}),  # expired token
        ({"c": gid, "n": 5}, {"pk": "pk_unknown"}),  # unknown key
    ]
    for variables, auth in cases:
        saved = view.plans
        view.plans = None
        try:
            normal = (await api.post(HOT, variables, **auth)).content
        finally:
            view.plans = saved
        assert (await api.post(HOT, variables, **auth)).content == normal, variables
    # A revoked key, once the key cache forgets it.
    await ApiKey.filter(key_hash=keys.hash_key(pk)).update(revoked_at=utcnow())
    forget_cached_keys()
    body = (await api.post(HOT, {"c": gid, "n": 5}, pk=pk)).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_discover_is_left_to_the_executor(api: Api, tenant) -> None:
    """DISCOVER is sampled per viewer and hour (engine/discovery.py): the plan steps aside."""
    campaign = await factories.campaign()
    author = await factories.member()
    for _ in range(4):
        await factories.idea(author, campaign)
    await drain(api)
    query = "query($o: IdeaOrder!) { ideas(orderBy: $o, first: 3) { edges { node { id } } } }"
    pk = tenant.publishable_key
    await both(api, query, {"o": "TOP"}, pk=pk)  # compiled for TOP
    view = api.client._transport.app.state.graphql  # type: ignore[attr-defined]
    saved = view.plans
    view.plans = None
    try:
        normal = (await api.post(query, {"o": "DISCOVER"}, pk=pk)).content
    finally:
        view.plans = saved
    before = saved.fallbacks
    assert (await api.post(query, {"o": "DISCOVER"}, pk=pk)).content == normal
    assert saved.fallbacks == before + 1


DETAIL = """query Detail($i: ID!, $n: Int, $a: String) { idea(id: $i) { id title body status
  counts { upvotes netVotes comments } author { id displayName }
  responses { fromStatus toStatus note createdAt __typename }
  comments(first: $n, after: $a) { totalCount __typename
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id body depth createdAt parentId author { id displayName } } } } } }"""


async def _thread_world(api: Api, tenant) -> dict[str, Any]:
    """An idea with official responses and a thread (a reply, a hidden comment, an erased
    member's comment), a hidden idea with the same, and another brand's key."""
    from api.types.ids import encode_id
    from engine import comments, privacy
    from engine import ideas as idea_ops
    from engine.models import Comment, Idea, IdeaStatus
    from engine.tenancy import _current_tenant
    from engine.tenants import create_tenant

    people = await factories.members(4)
    campaign = await factories.campaign()
    shown, hidden = [await factories.idea(people[0], campaign) for _ in range(2)]
    for idea in (shown, hidden):
        first = await comments.add_comment(people[1], idea.id, "first")
        await comments.add_comment(people[2], idea.id, "a reply", first.id)
        secret = await comments.add_comment(people[1], idea.id, "hidden words")
        await Comment.filter(id=secret.id).update(hidden=True)
        await comments.add_comment(people[3], idea.id, "by someone erased")
        await comments.add_comment(people[2], idea.id, "last")
        await idea_ops.set_idea_status(idea.id, IdeaStatus.UNDER_REVIEW, "Looking at it.")
        await idea_ops.set_idea_status(idea.id, IdeaStatus.ACCEPTED, "Coming soon.")
    await privacy.erase_member(people[3].id)
    await Idea.filter(id=hidden.id).update(hidden=True)
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Elsewhere {tenant.tenant.id}")
    finally:
        _current_tenant.reset(token)
    await drain(api)
    return {
        "shown": encode_id("Idea", shown.id),
        "hidden": encode_id("Idea", hidden.id),
        "roles": {
            "public": {"pk": tenant.publishable_key},
            "member": {"pk": tenant.publishable_key, "token": member_token(tenant, "cus_t")},
            "brand": {"sk": tenant.secret_key},
            "other": {"pk": other.publishable_key},
        },
    }


async def test_detail_page_is_compiled_with_its_rules_for_every_role(api: Api, tenant) -> None:
    """The idea's page (responses, comments with authors) answers the executor's bytes for every
    role; each statement names the tenant and its rule; hidden comments never come back, the
    erased member's comment shows the erased name, another brand sees nothing."""
    from tests.conftest import count_queries

    world = await _thread_world(api, tenant)
    for role, auth in world["roles"].items():
        for gid in (world["shown"], world["hidden"]):
            pages: list[dict[str, Any]] = []
            after = None
            while True:
                variables = {"i": gid, "n": 2, "a": after}
                normal, compiled = await both(api, DETAIL, variables, **auth)
                assert compiled == normal, (role, gid, after)
                with count_queries() as log:
                    body = await _post(api, DETAIL, variables, **auth)
                assert body == compiled
                idea = orjson.loads(body)["data"]["idea"]
                visible = role == "brand" or (role != "other" and gid == world["shown"])
                assert (idea is not None) == visible, (role, gid)
                if idea is None:
                    break
                statements = [s for s in log.statements if "domain_event" not in s]
                # idea, responses, the comment page and its COUNT
                assert len(statements) == 4, statements
                thread = [s for s in statements if 'FROM "comment" "c"' in s]
                (responses,) = [s for s in statements if 'FROM "idea_status_change" "r"' in s]
                for statement in thread:
                    assert '"c"."tenant_id" = ' in statement and '"c"."hidden" = ' in statement
                    if role != "brand":  # the comment's idea must be visible too
                        assert 'FROM "idea" "c_p1"' in statement, statement
                assert '"r"."tenant_id" = ' in responses
                if role != "brand":
                    assert 'FROM "idea" "r_p0"' in responses, responses
                assert [r["note"] for r in idea["responses"]] == ["Looking at it.", "Coming soon."]
                pages.append(idea["comments"])
                after = idea["comments"]["pageInfo"]["endCursor"]
                if not idea["comments"]["pageInfo"]["hasNextPage"]:
                    break
            if not pages:
                continue
            said = [e["node"] for page in pages for e in page["edges"]]
            assert [c["body"] for c in said] == [
                "first",
                "a reply",
                "[removed at the member's request]",
                "last",
            ], role
            assert said[1]["parentId"] == said[0]["id"] and said[1]["depth"] == 1
            assert said[2]["author"]["displayName"] == "Former member"
            assert {p["totalCount"] for p in pages} == {4}
            assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True]


async def test_detail_page_statements_stay_constant_as_the_thread_grows(api: Api, tenant) -> None:
    from engine import comments
    from tests.conftest import count_queries

    people = await factories.members(3)
    idea = await factories.idea(people[0], await factories.campaign())
    for n in range(101):
        await comments.add_comment(people[n % 3], idea.id, f"comment {n}")
    await drain(api)
    from api.types.ids import encode_id

    auth = {"pk": tenant.publishable_key, "token": member_token(tenant, "cus_thread")}
    variables: dict[str, Any] = {"i": encode_id("Idea", idea.id), "n": 5, "a": None}
    await both(api, DETAIL, variables, **auth)
    counts = {}
    for size in (10, 50, 100):
        before = plans(api).hits
        with count_queries() as log:
            body = (await api.post(DETAIL, {**variables, "n": size}, **auth)).json()
        assert plans(api).hits == before + 1
        assert len(body["data"]["idea"]["comments"]["edges"]) == size
        counts[size] = len([s for s in log.statements if "domain_event" not in s])
    assert counts == {10: 4, 50: 4, 100: 4}, counts  # idea, responses, comments, their COUNT


async def test_concurrent_first_requests_of_a_document_run_the_executor_once(
    api: Api, tenant
) -> None:
    """A widget's first page views come together: one request runs the executor, the others wait
    for its answer and take the plan it led to; a document that errors keeps nobody waiting."""
    authors = await factories.members(2)
    campaign = await factories.campaign()
    for i in range(3):
        await factories.idea(authors[i % 2], campaign)
    await drain(api)
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["id"]
    auth = {"pk": tenant.publishable_key, "token": member_token(tenant, authors[0].external_id)}
    await _post(api, "{ campaigns { totalCount } }", {}, **auth)  # the key and token are cached
    compiled = plans(api)
    before = compiled.hits
    first = await asyncio.gather(*(_post(api, HOT, {"c": gid, "n": 5}, **auth) for _ in range(5)))
    assert len(set(first)) == 1 and b'"edges"' in first[0] and b'"errors"' not in first[0]
    assert compiled.hits - before == 4
    broken = HOT.replace("viewerPledge", "viewerPledge noSuchField")
    answers = await asyncio.gather(*(_post(api, broken, {"c": gid}, **auth) for _ in range(5)))
    assert all(b"GRAPHQL_VALIDATION_FAILED" in a for a in answers), answers[0]
    assert compiled._learning == {}
