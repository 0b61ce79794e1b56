"""Proof of sameness: generated documents over the compiled subset (fields, aliases, fragments,
variables, first/after, orders, status filters, an idea's responses and comment thread, roles:
the public, a member, the brand and another brand's key) get byte for byte the executor's answer.

Each example sends the same request three times: with plans switched off (the executor), once
to let the plan be learned, and once answered by the plan (asserted through the plan counter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import parse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.limits import Limits, measure
from api.types.ids import encode_id
from engine import comments, merges, pledges, privacy, scores, votes
from engine import ideas as idea_ops
from engine.models import CampaignMode, Comment, Idea, IdeaStatus
from engine.pagination import encode_cursor
from engine.settings import get_settings
from engine.tenancy import _current_tenant, tenant_scope
from engine.tenants import NewTenant, create_tenant
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import Api, member_token
from tests.api.test_read_plans import IDEA_PLAIN, VIEWER_FIELDS, both, drain

IDEA_LEAVES = [*IDEA_PLAIN, *VIEWER_FIELDS, "__typename"]
COUNTS = [
    "upvotes",
    "downvotes",
    "netVotes",
    "scoreCount",
    "averageScore",
    "pledgers",
    "pledgedQuantity",
    "comments",
]
AUTHOR = ["id", "displayName", "reputation", "createdAt", "__typename"]
RESPONSE = ["fromStatus", "toStatus", "note", "createdAt", "__typename"]
COMMENT = ["id", "body", "depth", "createdAt", "parentId", "__typename"]
PAGE_INFO = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"]
# DISCOVER is sampled per viewer and hour (engine/discovery.py): plans leave it to the executor.
ORDERS = ["TOP", "HOT", "NEW", "CONTROVERSIAL", "PLEDGES"]
STATUSES = [s.value for s in IdeaStatus]


@dataclass
class World:
    tenant: NewTenant
    campaigns: list[str]
    ideas: list[str]
    cursors: dict[str, list[str]]  # by order: a cursor only means something in its own order
    token: str
    comment_cursors: list[str]
    other_key: str  # another brand's publishable key


_worlds: dict[str, World] = {}


async def _world(api: Api, tenant: NewTenant) -> World:
    """Seeded once per test (hypothesis reuses the function's fixtures across examples)."""
    if tenant.secret_key in _worlds:
        return _worlds[tenant.secret_key]
    people = await factories.members(6)
    ideas_c = await factories.campaign()
    contest = await factories.campaign(mode=CampaignMode.CONTEST)
    draft = await factories.campaign(open=False)
    rows = [await factories.idea(people[i % 3], ideas_c) for i in range(9)]
    rows += [await factories.idea(people[i % 3], contest) for i in range(5)]
    for n, idea in enumerate(rows[:9]):
        for voter in people[3 : 3 + n % 4]:
            await votes.cast_vote(voter, idea.id, VoteValue.UP if n % 3 else VoteValue.DOWN)
    for n, idea in enumerate(rows[9:]):
        await scores.score_idea(people[3], idea.id, 1 + n % 5)
        await pledges.pledge(people[3], idea.id, n)
        await pledges.pledge(people[4], idea.id, 1)
    # A thread with a reply, a hidden comment and an erased member's comment, and official
    # responses, on a listed idea and on the idea hidden below.
    said: list[Comment] = []
    for n, idea in enumerate((rows[0], rows[3], rows[0], rows[10])):
        said.append(await comments.add_comment(people[n % 5], idea.id, f"comment {n}"))
    said.append(await comments.add_comment(people[1], rows[0].id, "a reply", said[0].id))
    said.append(await comments.add_comment(people[5], rows[0].id, "by someone erased"))
    for n in range(4):
        said.append(await comments.add_comment(people[n], rows[0].id, f"more {n}"))
    await Comment.filter(id=said[2].id).update(hidden=True)
    await privacy.erase_member(people[5].id)
    for idea in (rows[0], rows[3]):
        await idea_ops.set_idea_status(idea.id, IdeaStatus.UNDER_REVIEW, "Looking at it.")
        await idea_ops.set_idea_status(idea.id, IdeaStatus.ACCEPTED, "")
    await merges.merge_ideas(rows[1].id, rows[2].id)
    await Idea.filter(id=rows[3].id).update(hidden=True)
    await Idea.filter(id=rows[4].id).update(status=IdeaStatus.ACCEPTED, frozen=True)
    drafted = await Idea.create(
        tenant_id=tenant.tenant.id,
        campaign_id=draft.id,
        author_id=people[0].id,
        title="d",
        body="d",
    )
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Other {tenant.tenant.id}")
        with tenant_scope(other.tenant.id):
            foreign = await factories.idea(await factories.member(), await factories.campaign())
    finally:
        _current_tenant.reset(token)
    await drain(api)
    campaigns = [encode_id("Campaign", c.id) for c in (ideas_c, contest, draft)]
    idea_ids = [encode_id("Idea", i.id) for i in [*rows, drafted, foreign]]
    cursors: dict[str, list[str]] = {}
    for order in ORDERS:
        page = await api.data(
            "query($o: IdeaOrder!) { ideas(orderBy: $o, first: 6) { edges { cursor } } }",
            {"o": order},
            sk=tenant.secret_key,
        )
        cursors[order] = [e["cursor"] for e in page["ideas"]["edges"][::2]]
    world = World(
        tenant,
        campaigns,
        idea_ids,
        cursors,
        member_token(tenant, people[3].external_id),
        [encode_cursor(c.id, c.id) for c in said[::2]],
        other.publishable_key,
    )
    _worlds[tenant.secret_key] = world
    return world


# ---- documents ---------------------------------------------------------------------------------


@st.composite
def _subset(draw: st.DrawFn, names: list[str]) -> list[str]:
    return draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))


@st.composite
def _fields(draw: st.DrawFn, names: list[str]) -> str:
    parts: list[str] = []
    for name in draw(_subset(names)):
        alias = draw(st.sampled_from(["", "", f"{name}A: ", "x: "]))
        if alias == "x: ":
            alias = f"x{len(parts)}: "
        parts.append(alias + name)
    return " ".join(parts)


@st.composite
def thread(draw: st.DrawFn, world: World, variables: dict[str, Any], definitions: list[str]) -> str:
    """An idea's comments connection, with or without first/after (as variables or inline)."""
    args = []
    first = draw(st.sampled_from([None, 0, 1, 2, 20, 100]))
    if first is not None:
        if draw(st.booleans()):
            name = f"cn{len(definitions)}"
            variables[name] = first
            definitions.append(f"${name}: Int")
            args.append(f"first: ${name}")
        else:
            args.append(f"first: {first}")
    if draw(st.integers(0, 2)) == 0:
        name = f"ca{len(definitions)}"
        variables[name] = draw(st.sampled_from(world.comment_cursors))
        definitions.append(f"${name}: String")
        args.append(f"after: ${name}")
    parts: list[str] = []
    for part in draw(_subset(["totalCount", "pageInfo", "edges", "__typename"])):
        if part == "pageInfo":
            parts.append(f"pageInfo {{ {draw(_fields(PAGE_INFO))} }}")
        elif part == "edges":
            node = draw(_fields(COMMENT))
            if draw(st.booleans()):
                node += f" author {{ {draw(_fields(AUTHOR))} }}"
            if draw(st.booleans()):
                node = f"... on Comment {{ {node} }}"
            cursor = "cursor " if draw(st.booleans()) else ""
            parts.append(f"edges {{ {cursor}node {{ {node} }} }}")
        else:
            parts.append(part)
    arguments = f"({', '.join(args)})" if args else ""
    return f"comments{arguments} {{ {' '.join(parts)} }}"


@st.composite
def idea_selection(
    draw: st.DrawFn,
    fragments: list[str],
    single: tuple[World, dict[str, Any], list[str]] | None = None,
) -> str:
    """An idea's fields; with ``single`` (world, variables, definitions), as below ``idea(id)``,
    its responses and comment thread too."""
    body = draw(_fields(IDEA_LEAVES))
    if draw(st.booleans()):
        body += f" counts {{ {draw(_fields(COUNTS))} }}"
    if draw(st.booleans()):
        body += f" author {{ {draw(_fields(AUTHOR))} }}"
    if single is not None:
        if draw(st.booleans()):
            body += f" responses {{ {draw(_fields(RESPONSE))} }}"
        for n in range(draw(st.integers(0, 2))):
            alias = f"t{n}: " if n else ""
            body += f" {alias}{draw(thread(*single))}"
    style = draw(st.sampled_from(["plain", "named", "inline", "node"]))
    if style == "named":
        name = f"F{len(fragments)}"
        fragments.append(f"fragment {name} on Idea {{ {body} }}")
        return f"id ...{name}" if draw(st.booleans()) else f"...{name}"
    if style == "inline":
        return f"... on Idea {{ {body} }}"
    if style == "node":
        return f"... on Node {{ id }} {body}"
    return body


@st.composite
def request(draw: st.DrawFn, world: World) -> tuple[str, dict[str, Any], str]:
    fragments: list[str] = []
    variables: dict[str, Any] = {}
    definitions: list[str] = []
    roots = []
    for n in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["ideas", "ideas", "idea"]))
        alias = f"r{n}: " if n or draw(st.booleans()) else ""
        if kind == "idea":
            # Mostly the idea with the thread (the first), the others now and then.
            gid = draw(
                st.sampled_from(
                    [world.ideas[0]] * 6 + [*world.ideas, "bm90IGFuIGlk", encode_id("Idea", 2**40)]
                )
            )
            if draw(st.booleans()):
                variables[f"i{n}"] = gid
                definitions.append(f"$i{n}: ID!")
                arg = f"$i{n}"
            else:
                arg = f'"{gid}"'
            selection = draw(idea_selection(fragments, (world, variables, definitions)))
            roots.append(f"{alias}idea(id: {arg}) {{ {selection} }}")
            continue
        args = []
        if draw(st.booleans()):
            variables[f"c{n}"] = draw(st.sampled_from(world.campaigns))
            definitions.append(f"$c{n}: ID")
            args.append(f"campaignId: $c{n}")
        order = draw(st.sampled_from([None, *ORDERS]))
        if order is not None:
            if draw(st.booleans()):
                variables[f"o{n}"] = order
                definitions.append(f"$o{n}: IdeaOrder!")
                args.append(f"orderBy: $o{n}")
            else:
                args.append(f"orderBy: {order}")
        first = draw(st.sampled_from([None, 0, 1, 3, 5, 20, 100]))
        if first is not None:
            variables[f"n{n}"] = first
            definitions.append(f"$n{n}: Int")
            args.append(f"first: $n{n}")
        if draw(st.integers(0, 3)) == 0:
            variables[f"a{n}"] = draw(st.sampled_from(world.cursors[order or "TOP"]))
            definitions.append(f"$a{n}: String")
            args.append(f"after: $a{n}")
        if draw(st.integers(0, 3)) == 0:
            args.append(f"status: [{', '.join(draw(_subset(STATUSES)))}]")
        parts: list[str] = []
        for part in draw(_subset(["totalCount", "pageInfo", "edges", "__typename"])):
            if part == "pageInfo":
                parts.append(f"pageInfo {{ {draw(_fields(PAGE_INFO))} }}")
            elif part == "edges":
                cursor = "cursor " if draw(st.booleans()) else ""
                parts.append(f"edges {{ {cursor}node {{ {draw(idea_selection(fragments))} }} }}")
            else:
                parts.append(part)
        arguments = f"({', '.join(args)})" if args else ""
        roots.append(f"{alias}ideas{arguments} {{ {' '.join(parts)} }}")
    if draw(st.booleans()):
        roots.append("__typename")
    head = f"query Q({', '.join(definitions)})" if definitions else "query Q"
    document = f"{head} {{ {' '.join(roots)} }} {' '.join(fragments)}"
    role = draw(st.sampled_from(["public", "member", "brand", "other"]))
    return document, variables, role


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_compiled_plans_answer_exactly_what_the_executor_answers(
    api: Api, tenant: NewTenant, data: st.DataObject
) -> None:
    world = await _world(api, tenant)
    document, variables, role = data.draw(request(world))
    # A document over the limits (api/limits.py: 30 aliases, say, which many roots of many
    # aliased fields reach) is refused before either path runs: not what this compares.
    assume(not measure(parse(document), Limits.of(get_settings())))
    auth = {
        "public": {"pk": tenant.publishable_key},
        "member": {"pk": tenant.publishable_key, "token": world.token},
        "brand": {"sk": tenant.secret_key},
        "other": {"pk": world.other_key},
    }[role]
    normal, compiled = await both(api, document, variables, **auth)
    assert b'"errors"' not in normal, normal
    assert compiled == normal, (document, variables, role)
