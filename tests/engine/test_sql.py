"""engine.sql: statements that read by a list parameter, on both backends."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from engine import counters, events, vote_reversal
from engine.sql import Params, Statement, bind
from engine.tenancy import _current_tenant, current_tenant_id, tenant_scope
from engine.tenants import create_tenant
from tests import factories
from tests.conftest import count_queries

_BY_ID = Statement(
    lambda d: (
        d.probe(
            ":ids::bigint[]",
            "SELECT id, display_name FROM member WHERE tenant_id = :tenant",
            "id",
            "FOR NO KEY UPDATE",
        )
        + " ORDER BY id"
    )
)
_COUNTED = Statement(
    lambda d: (
        "SELECT k.key, (SELECT COUNT(*) FROM member WHERE tenant_id = :tenant"
        f" AND id = k.key) FROM {d.keys(':ids::bigint[]')}"
    )
)


async def _run(statement: Statement, ids: list[int]) -> list[tuple[int, object]]:
    async with events.unit_of_work() as uow:
        _, rows = await statement.execute(uow.connection, tenant=current_tenant_id(), ids=ids)
    return [(int(row[0]), row[1]) for row in rows]


async def test_a_probe_reads_the_rows_of_its_keys_with_one_text_for_any_number(tenant) -> None:
    members = await factories.members(3)
    ids = sorted(m.id for m in members)
    other = await factories.member()
    with count_queries() as log:
        assert await _run(_BY_ID, [ids[1]]) == [(ids[1], members[1].display_name)]
        missing = max([*ids, other.id]) + 1000
        found = await _run(_BY_ID, [*ids, missing])
        assert [row[0] for row in found] == ids
        assert await _run(_BY_ID, []) == []
    texts = {s.split(": [")[0] for s in log.statements if "member" in s}
    assert len(texts) == 1, texts  # the same statement for one key, four and none


async def test_a_probe_never_reads_another_tenant(tenant) -> None:
    mine = await factories.member()
    token = _current_tenant.set(None)
    try:
        brand = await create_tenant(f"Another brand {secrets.token_hex(4)}")
        with tenant_scope(brand.tenant.id):
            theirs = await factories.member()
    finally:
        _current_tenant.reset(token)
    assert [row[0] for row in await _run(_BY_ID, [mine.id, theirs.id])] == [mine.id]


async def test_keys_give_one_row_per_key_for_a_correlated_subquery(tenant) -> None:
    member = await factories.member()
    rows = await _run(_COUNTED, [member.id, member.id + 10_000])
    assert sorted((key, int(n)) for key, n in rows) == [  # type: ignore[call-overload]
        (member.id, 1),
        (member.id + 10_000, 0),
    ]


# Votes of one brand, bulk: every member of the tenant on every idea of it.
_FILL_VOTES = (
    "INSERT INTO vote (tenant_id, idea_id, member_id, value, version, created_at, updated_at)"
    " SELECT $1, i.id, m.id, 1, 1, now(), now() FROM idea i CROSS JOIN member m"
    " WHERE i.tenant_id = $1 AND m.tenant_id = $1"
)


async def _brand(members: int, ideas: int) -> int:
    """A brand of its own with ``members`` members (its ideas' author among them) and ``ideas``
    ideas in one campaign."""
    brand = await create_tenant(f"Brand {secrets.token_hex(4)}")
    with tenant_scope(brand.tenant.id):
        author = await factories.member()
        campaign = await factories.campaign()
        for _ in range(ideas):
            await factories.idea(author, campaign)
        await factories.members(members - 1)
    return brand.tenant.id


async def test_a_lookup_by_primary_key_stays_on_it_when_the_brand_grew_since_analyze(
    database,
) -> None:
    """The statistics say the brand has no votes (it had none at the last ANALYZE, as a new or
    fast-growing brand's may): its lookups by vote id must still read one row per key, not all
    of the brand's votes by the index that starts with the tenant (docs/architecture.md,
    "Reading by a list of keys")."""
    if database != "postgres":
        pytest.skip("plans of PostgreSQL's planner")
    client = connections.get("default")
    await client.execute_query(_FILL_VOTES, [await _brand(40, 40)])  # another brand's 1 600
    tenant_id = await _brand(30, 30)
    await client.execute_query("ANALYZE vote")
    await client.execute_query(_FILL_VOTES, [tenant_id])  # 900 votes since
    rows = await client.execute_query_dict(
        "SELECT id FROM vote WHERE tenant_id = $1 ORDER BY id LIMIT 50", [tenant_id]
    )
    ids = [int(r["id"]) for r in rows]
    # Buffers per key: a probe reads a few, an update writes the row and its index entries too.
    # Through the tenant's index each key read the brand's 900 votes: 330 and 350 buffers per
    # key, and 352 for the one vote's UPDATE.
    now = datetime.now(UTC)
    checks: list[tuple[str, list[Any], int, int]] = []
    for statement, values, per_key in (
        (vote_reversal._LOCK_VOTES, {"marked": None}, 10),
        (vote_reversal._MARK_VOTES, {"audits": [None] * len(ids), "now": now}, 40),
    ):
        text, names = statement.render("postgres")
        args = {"tenant": tenant_id, "ids": ids, **values}
        checks.append((text, [args[n] for n in names], len(ids), per_key))
    # A member changing their vote: the vote action's UPDATE of their own row, by its id.
    p = Params(True)
    text = counters._row_sql(("vote", "value", False, True), p)
    values = {"value": -1, "now": now, "row_id": ids[0], "tenant_id": tenant_id}
    checks.append((text, bind(p.values, True, values), 1, 40))
    for text, positional, keys, per_key in checks:
        async with in_transaction() as conn:  # rolled back: nothing is written
            plan = await conn.execute_query_dict(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}", positional
            )
            await conn.rollback()
        top = orjson.loads(plan[0]["QUERY PLAN"])[0]["Plan"]
        assert top["Shared Hit Blocks"] + top.get("Shared Read Blocks", 0) < per_key * keys, text


async def test_a_model_built_from_a_row_is_the_one_tortoise_builds(tenant) -> None:
    """sql.from_row skips Tortoise's per-attribute setup: the instance must be the same, for
    every model the hot paths build so (a vote credit, a member, an idea, a campaign), and a
    row without every column still gets Tortoise's partial model."""
    from engine.models import Campaign, Idea, Member
    from engine.reputation.models import VoteCredit
    from engine.sql import from_row
    from engine.votes import VoteValue, cast_vote
    from tests.engine.reputation.support import process_pending

    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    client: Any = connections.get("default")
    for model in (VoteCredit, Member, Idea, Campaign):
        table = model._meta.db_table
        rows = await client.execute_query_dict(
            f'SELECT * FROM "{table}" WHERE tenant_id = {current_tenant_id()}'
        )
        assert rows, table
        for row in rows:
            built, tortoise = from_row(model, row), model._init_from_db(**row)
            assert built.__dict__ == tortoise.__dict__, table
            for name, value in tortoise.__dict__.items():
                assert type(built.__dict__[name]) is type(value), (table, name)
    credit = from_row(
        VoteCredit,
        (
            await client.execute_query_dict(
                f"SELECT * FROM reputation_vote_credit WHERE tenant_id = {current_tenant_id()}"
            )
        )[0],
    )
    credit.author_points += 1  # still a model: it saves as one Tortoise read does
    await credit.save(update_fields=["author_points"])
    assert (await VoteCredit.get(id=credit.id)).author_points == credit.author_points
    partial = from_row(Member, {"id": voter.id, "display_name": voter.display_name})
    assert partial._partial and partial.display_name == voter.display_name
