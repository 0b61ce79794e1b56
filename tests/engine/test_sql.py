"""engine.sql: statements that read by a list parameter, on both backends."""

from __future__ import annotations

import secrets

from engine import events
from engine.sql import Statement
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
