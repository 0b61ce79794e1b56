"""Compiled member actions (vote, scoreIdea, pledge) answer with the executor's exact bytes.

A mutation changes what the next request sees, so each example runs the same request from the
same state three times (with plans switched off: the executor; once to let the plan be learned;
once answered by the plan), putting the member's value back through the engine after each, and
compares the first and the last. Documents that ask for what a plan does not compile, and callers
that are not members, must get the executor's answer (the plan counter does not move).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.types.ids import encode_id
from engine import campaigns, merges, pledges, scores, votes
from engine import ideas as idea_ops
from engine.errors import DomainError
from engine.models import CampaignMode, CampaignStatus, Idea, IdeaStatus, Pledge, Score, Vote
from engine.tenancy import _current_tenant, tenant_scope
from engine.tenants import NewTenant, create_tenant
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import Api, member_token
from tests.api.test_read_plans import IDEA_PLAIN, drain, plans

# The idea fields a member action's payload compiles (its own viewer field is added per action).
IDEA_LEAVES = [*IDEA_PLAIN, "__typename"]
COUNTS = ["upvotes", "downvotes", "netVotes", "scoreCount", "pledgers", "pledgedQuantity"]
COUNTS += ["comments", "__typename"]
USER_ERROR = ["field", "code", "message", "__typename"]
VIEWER = {"vote": "viewerVote", "scoreIdea": "viewerScore", "pledge": "viewerPledge"}
# Fields that need a statement of their own: documents asking for them run on the executor.
NOT_COMPILED = ["author { id }", "counts { averageScore }", "viewerScore", "supporters { count }"]
INPUT = {"vote": ("VoteInput", "value"), "scoreIdea": ("ScoreIdeaInput", "score")}
INPUT["pledge"] = ("PledgeInput", "quantity")
VALUES: dict[str, list[Any]] = {
    "vote": ["UP", "DOWN", "NONE"],
    "scoreIdea": [1, 3, 5, 0, 6],
    "pledge": [0, 1, 7, 1001, -1],
}
LITERAL: dict[str, Callable[[Any], str]] = {"vote": str, "scoreIdea": str, "pledge": str}


@dataclass
class World:
    tenant: NewTenant
    ideas: list[str]  # global ids: ours (open, own, frozen, hidden, merged, closed, ...), foreign
    members: dict[str, int]  # role -> member id ("member", "member2")
    tokens: dict[str, str]
    other_key: str
    other_token: str  # a member of the other brand, with its key


_worlds: dict[str, World] = {}


async def _world(api: Api, tenant: NewTenant) -> World:
    if tenant.secret_key in _worlds:
        return _worlds[tenant.secret_key]
    author, a, b = await factories.members(3)
    open_c = await factories.campaign()
    contest = await factories.campaign(mode=CampaignMode.CONTEST)
    closing = await factories.campaign()
    rows = [await factories.idea(author, open_c) for _ in range(6)]
    own = await factories.idea(a, open_c)
    entry = await factories.idea(author, contest)
    closed = await factories.idea(author, closing)
    # Values the members hold before any example: changes, retracts and withdrawals have
    # something to act on, and every value can be put back through the engine.
    for member in (a, b):
        await votes.cast_vote(member, rows[0].id, VoteValue.UP)
        await votes.cast_vote(member, closed.id, VoteValue.DOWN)
        await scores.score_idea(member, entry.id, 4)
        await pledges.pledge(member, rows[0].id, 2)
    await votes.cast_vote(a, rows[5].id, VoteValue.DOWN)
    await Idea.filter(id=rows[1].id).update(frozen=True)
    await Idea.filter(id=rows[2].id).update(hidden=True)
    await merges.merge_ideas(rows[3].id, rows[0].id)
    await idea_ops.set_idea_status(rows[4].id, IdeaStatus.DECLINED, "No.")
    await campaigns.set_campaign_status(closing.id, CampaignStatus.CLOSED)
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Other {tenant.tenant.id}")
        with tenant_scope(other.tenant.id):
            stranger = await factories.member()
            foreign = await factories.idea(await factories.member(), await factories.campaign())
    finally:
        _current_tenant.reset(token)
    await drain(api)
    ids = [encode_id("Idea", i.id) for i in [*rows, own, entry, closed, foreign]]
    world = World(
        tenant,
        [*ids, "bm90IGFuIGlk", encode_id("Idea", 2**40), encode_id("Campaign", open_c.id)],
        {"member": a.id, "member2": b.id},
        {
            "member": member_token(tenant, a.external_id),
            "member2": member_token(tenant, b.external_id),
        },
        other.publishable_key,
        member_token(other, stranger.external_id),
    )
    _worlds[tenant.secret_key] = world
    return world


# ---- documents ---------------------------------------------------------------------------------


@st.composite
def _fields(draw: st.DrawFn, names: list[str]) -> str:
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    parts = []
    for n, name in enumerate(chosen):
        alias = draw(st.sampled_from(["", "", f"a{n}: "]))
        parts.append(alias + name)
    return " ".join(parts)


@dataclass
class Request:
    document: str
    variables: dict[str, Any]
    action: str
    idea: str
    compiled: bool  # whether the plan must answer it (for a member)


@st.composite
def request(draw: st.DrawFn, world: World) -> Request:
    action = draw(st.sampled_from(list(VIEWER)))
    type_name, value_name = INPUT[action]
    # Mostly ideas the action succeeds on (an open one, one with the member's down vote).
    idea = draw(st.sampled_from([*[world.ideas[0]] * 4, *[world.ideas[5]] * 2, *world.ideas]))
    value = draw(st.sampled_from(VALUES[action]))
    variables: dict[str, Any] = {}
    definitions: list[str] = []
    style = draw(st.sampled_from(["variables", "input", "literal"]))
    if style == "input":
        variables["in"] = {"ideaId": idea, value_name: value}
        definitions.append(f"$in: {type_name}!")
        arguments = "input: $in"
    elif style == "variables":
        variables.update(i=idea, v=value)
        kind = "VoteValue!" if action == "vote" else "Int!"
        definitions += ["$i: ID!", f"$v: {kind}"]
        arguments = f"input: {{ideaId: $i, {value_name}: $v}}"
    else:
        arguments = f'input: {{ideaId: "{idea}", {value_name}: {LITERAL[action](value)}}}'
    compiled = True
    fragment = ""
    parts: list[str] = []
    for part in draw(
        st.lists(st.sampled_from(["idea", "userErrors", "__typename"]), min_size=1, unique=True)
    ):
        if part == "idea":
            body = draw(_fields([*IDEA_LEAVES, VIEWER[action]]))
            if draw(st.booleans()):
                body += f" counts {{ {draw(_fields(COUNTS))} }}"
            if draw(st.integers(0, 5)) == 0:
                extra = draw(st.sampled_from(NOT_COMPILED))
                if extra != VIEWER[action]:
                    compiled = False
                body += f" {extra}"
            wrap = draw(st.sampled_from(["plain", "inline", "node", "named"]))
            if wrap == "inline":
                body = f"... on Idea {{ {body} }}"
            elif wrap == "node":
                body = f"... on Node {{ id }} {body}"
            elif wrap == "named":
                fragment = f"fragment F on Idea {{ {body} }}"
                body = "id ...F" if draw(st.booleans()) else "...F"
            part = f"idea {{ {body} }}"
        elif part == "userErrors":
            part = f"userErrors {{ {draw(_fields(USER_ERROR))} }}"
        parts.append(part)
    selection = " ".join(parts)
    alias = draw(st.sampled_from(["", "r: "]))
    roots = f"{alias}{action}({arguments}) {{ {selection} }}"
    if draw(st.integers(0, 3)) == 0:
        roots = f"__typename {roots}"
    head = f"mutation M({', '.join(definitions)})" if definitions else "mutation M"
    document = f"{head} {{ {roots} }}"
    if fragment:
        document += f" {fragment}"
    return Request(document, variables, action, idea, compiled)


# ---- running one request three times from the same state ---------------------------------------


_MODELS = {"vote": (Vote, "value"), "scoreIdea": (Score, "value"), "pledge": (Pledge, "quantity")}


async def _value(action: str, member_id: int, idea_pk: int) -> int:
    model, column = _MODELS[action]
    row = await model.filter(member_id=member_id, idea_id=idea_pk).first()
    return int(getattr(row, column)) if row is not None else 0


async def _put_back(action: str, member_id: int, idea_pk: int, value: int) -> None:
    if await _value(action, member_id, idea_pk) == value:
        return
    call: Callable[[], Awaitable[Any]] = {
        "vote": lambda: votes.cast_vote(member_id, idea_pk, VoteValue(value)),
        "scoreIdea": lambda: scores.score_idea(member_id, idea_pk, value),
        "pledge": lambda: pledges.pledge(member_id, idea_pk, value),
    }[action]
    try:
        await call()
    except DomainError as exc:  # a world this test cannot put back: the world is wrong
        pytest.fail(f"cannot put {action} back to {value}: {exc}")
    assert await _value(action, member_id, idea_pk) == value


async def _post(api: Api, req: Request, auth: dict[str, Any]) -> bytes:
    # A task of its own, as a server runs each request (the API enters the caller's tenant).
    response = await asyncio.create_task(api.post(req.document, req.variables, **auth))
    return response.content


def _pk(gid: str) -> int | None:
    from api.types.ids import decode_id

    try:
        return decode_id(gid, "Idea", "ideaId")
    except DomainError:
        return None


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_compiled_member_actions_answer_exactly_what_the_executor_answers(
    api: Api, tenant: NewTenant, data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await _world(api, tenant)

    async def hold(function: str, *args: Any, **kwargs: Any) -> bool:
        return True  # consumers (reputation, serial voting) must not move counts between runs

    monkeypatch.setattr(api.background.queue, "enqueue", hold)
    req = data.draw(request(world))
    role = data.draw(st.sampled_from(["member", "member", "member2", "public", "brand", "other"]))
    auth = {
        "member": {"pk": tenant.publishable_key, "token": world.tokens["member"]},
        "member2": {"pk": tenant.publishable_key, "token": world.tokens["member2"]},
        "public": {"pk": tenant.publishable_key},
        "brand": {"sk": tenant.secret_key},
        "other": {"pk": world.other_key, "token": world.other_token},
    }[role]
    member_id = world.members.get(role)
    idea_pk = _pk(req.idea)
    ours = member_id is not None and idea_pk is not None and req.idea in world.ideas[:9]
    before = await _value(req.action, member_id, idea_pk) if ours else 0  # type: ignore[arg-type]

    async def put_back() -> None:
        if ours:
            await _put_back(req.action, member_id, idea_pk, before)  # type: ignore[arg-type]

    view = api.client._transport.app.state.graphql  # type: ignore[attr-defined]
    saved = plans(api)
    view.plans = None
    try:
        normal = await _post(api, req, auth)
    finally:
        view.plans = saved
    await put_back()
    await _post(api, req, auth)  # learns the plan (when the executor answered without errors)
    await put_back()
    hits = saved.hits
    compiled = await _post(api, req, auth)
    await put_back()
    answered = saved.hits == hits + 1
    members = role in ("member", "member2", "other")  # "other": a member of the other brand
    expected = req.compiled and members and b'"errors"' not in normal
    assert answered == expected, (req, role, normal)

    assert compiled == normal, (req, role)


VOTE = """mutation V($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {
  idea { id counts { upvotes downvotes netVotes } viewerVote } userErrors { code } } }"""


async def test_a_compiled_vote_is_not_run_from_a_get(api: Api, tenant: NewTenant) -> None:
    """The executor refuses mutations over GET; a plan learned from a POST must not answer one."""
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    token = member_token(tenant, "cus_get")
    variables = {"i": encode_id("Idea", idea.id), "v": "UP"}
    auth = {"X-Cosource-Key": tenant.publishable_key, "Authorization": f"Bearer {token}"}
    for _ in range(2):  # the second one is answered by the plan
        await api.data(VOTE, variables, pk=tenant.publishable_key, token=token)
    hits = plans(api).hits
    assert hits > 0
    params = {"query": VOTE, "variables": orjson.dumps({**variables, "v": "DOWN"}).decode()}
    response = await api.client.get("/graphql", params=params, headers=auth)
    assert response.status_code >= 400 or b'"errors"' in response.content
    assert plans(api).hits == hits
    with tenant_scope(tenant.tenant.id):
        assert (await Vote.get(idea_id=idea.id)).value == VoteValue.UP


async def _voted_with_a_learned_plan(
    api: Api, tenant: NewTenant, external_id: str
) -> tuple[Idea, str, dict[str, str]]:
    """A member's UP vote on a new idea, sent twice: the plan is learned, then answers once."""
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    token = member_token(tenant, external_id)
    variables = {"i": encode_id("Idea", idea.id), "v": "UP"}
    for _ in range(2):
        await api.data(VOTE, variables, pk=tenant.publishable_key, token=token)
    return idea, token, variables


async def test_a_member_deleted_since_the_token_was_cached_gets_the_executors_error(
    api: Api, tenant: NewTenant
) -> None:
    """The action raised something other than a DomainError (nothing was written): the plan
    steps aside and the executor answers, with its own error, code and path."""
    from engine.models import Member

    idea, token, variables = await _voted_with_a_learned_plan(api, tenant, "cus_leaving")
    with tenant_scope(tenant.tenant.id):
        await Vote.filter(idea_id=idea.id).delete()
        await Member.filter(external_id="cus_leaving").delete()
    compiled = plans(api)
    fallbacks = compiled.fallbacks
    body = await api.gql(VOTE, variables, pk=tenant.publishable_key, token=token)
    assert compiled.fallbacks == fallbacks + 1
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == ["vote"]


async def test_an_outage_met_by_a_compiled_vote_is_answered_unavailable_without_a_second_run(
    api: Api, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that went away under a compiled vote answers 503 SERVICE_UNAVAILABLE at once.
    Handing it to the executor ran the vote a second time on the same request, inside the first
    attempt's broken transaction (seen as INTERNAL_SERVER_ERROR in the fault test)."""
    import asyncpg

    from engine import votes

    _, token, variables = await _voted_with_a_learned_plan(api, tenant, "cus_outage")
    assert plans(api).hits > 0
    calls: list[int] = []

    async def down(*args: object, **kwargs: object) -> object:
        calls.append(1)
        raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")

    monkeypatch.setattr(votes, "cast_vote", down)
    auth = {"X-Cosource-Key": tenant.publishable_key, "Authorization": f"Bearer {token}"}
    response = await api.client.post(
        "/graphql", json={"query": VOTE, "variables": {**variables, "v": "DOWN"}}, headers=auth
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert calls == [1]
