"""Bulk member import: good rows in, each bad row reported by line, malformed files write nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from engine import inbound, member_import, votes
from engine.errors import DomainError
from engine.member_import import MalformedFile, import_file
from engine.models import Idea, IntegrationKind, Member
from engine.votes import VoteValue
from tests import factories

CSV = """external_id,display_name,email,verified,tier,customer_value_cents
imp-1,Ada Lovelace,ada@example.com,true,gold,120000
imp-2,Grace,grace@example.com,yes,,500
,No Id,x@example.com,true,,1
imp-4,Bad Email,not-an-email,true,,1
imp-5,Bad Value,e5@example.com,true,,12.5
imp-6,"Quoted, with comma",e6@example.com,maybe,,1
imp-7,Too,many,fields,here,1,2
imp-8,"Multi
line name",e8@example.com,false,silver,0
imp-9,Negative,e9@example.com,,,-1
imp-2,Grace Hopper,,,,
"""


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


async def test_csv_imports_good_rows_and_reports_each_bad_one(tenant, tmp_path) -> None:
    report = await import_file(_write(tmp_path, "members.csv", CSV))
    assert {r.line: r.external_id for r in report.rejected} == {
        4: "",
        5: "imp-4",
        6: "imp-5",
        7: "imp-6",
        8: None,
        11: "imp-9",
    }
    reasons = {r.line: r.reason for r in report.rejected}
    assert "externalId" in reasons[4] and "email" in reasons[5]
    assert "cents" in reasons[6] and "verified" in reasons[7]
    assert "7 fields" in reasons[8] and "customerValueCents" in reasons[11]
    assert (report.rows, report.created, report.updated) == (10, 3, 1)  # imp-2 twice
    ada = await Member.get(external_id="imp-1")
    assert (ada.display_name, ada.verified, ada.tier, ada.customer_value_cents) == (
        "Ada Lovelace",
        True,
        "gold",
        120_000,
    )
    # The second imp-2 row gave only a name: the rest stays as the first row set it.
    grace = await Member.get(external_id="imp-2")
    assert (grace.display_name, grace.email, grace.verified, grace.customer_value_cents) == (
        "Grace Hopper",
        "grace@example.com",
        True,
        500,
    )
    assert (await Member.get(external_id="imp-8")).display_name == "Multi\nline name"
    assert not await Member.filter(external_id__in=["imp-4", "imp-5", "imp-6", "imp-9"]).exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "id,name\n1,x\n", "unknown column"),
        ("b.csv", "display_name,email\nx,y@example.com\n", "no external_id"),
        ("c.csv", b"external_id\nok\n\xff\xfe\x00binary", "NUL"),
        ("d.csv", b"external_id\nok\n\xe9t\xe9\n", "UTF-8"),
        ("e.csv", "", "empty"),
        ("f.jsonl", "not json\n", "JSON"),
        ("g.txt", "external_id\nok\n", ".csv"),
    ],
)
async def test_malformed_file_writes_nothing(tenant, tmp_path, name, content, message) -> None:
    before = await Member.all().count()
    with pytest.raises(MalformedFile) as caught:
        await import_file(_write(tmp_path, name, content))
    assert message in caught.value.errors[0].message
    assert await Member.all().count() == before


async def test_jsonl_rows_and_their_line_numbers(tenant, tmp_path) -> None:
    content = "\n".join(
        [
            '{"externalId": "j-1", "displayName": "J One", "customerValueCents": 7}',
            '{"external_id": 2, "verified": true}',
            "",
            '["not", "an", "object"]',
            '{"externalId": "j-4", "colour": "red"}',
            '{"externalId": "j-5", "verified": "perhaps"}',
            "{broken",
        ]
    )
    report = await import_file(_write(tmp_path, "m.jsonl", content))
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (4, "not a JSON object"),
        (5, "unknown key(s) 'colour'"),
        (6, "verified"),
        (7, "not a JSON object"),
    ]
    assert report.created == 2
    assert (await Member.get(external_id="2")).verified is True


async def test_import_recounts_supporters_of_existing_members(tenant, tmp_path) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    fan = await factories.member(external_id="fan-1", customer_value_cents=100)
    await votes.cast_vote(fan, idea.id, VoteValue.UP)
    csv = "external_id,customer_value_cents\nfan-1,900000\nnew-1,5\n"
    report = await import_file(_write(tmp_path, "v.csv", csv))
    assert (report.created, report.updated, report.rejected) == (1, 1, [])
    assert (await Idea.get(id=idea.id)).supporter_value_cents == 900_000


async def test_mutation_rows_are_bounded(tenant) -> None:
    rows = [{"externalId": f"b-{i}"} for i in range(member_import.MAX_MUTATION_ROWS + 1)]
    with pytest.raises(DomainError):
        await member_import.import_members(rows)
    report = await member_import.import_members([{"externalId": "b-1"}, {"email": "x@y.z"}])
    assert report.created == 1 and [r.line for r in report.rejected] == [2]


@pytest.mark.parametrize(
    "cells",
    [
        ["  pad-1 ", "  Ada  ", " ada@example.com ", " TRUE ", " gold ", " 007 "],
        ["p-2", "", "", "", "", ""],
        ["p-3", "x" * 100, "a@b", "No", "t" * 50, "0"],
        ["p-4", "x" * 101, "", "", "", ""],  # name too long
        ["p-5", "", "no-at-sign", "", "", ""],
        ["p-6", "", "", "maybe", "", ""],
        ["p-7", "", "", "", "t" * 51, ""],
        ["p-8", "", "", "", "", "-5"],
        ["p-9", "", "", "", "", "+5"],
        ["p-10", "", "", "", "", "1_000"],
        ["p-11", "", "", "", "", "12.5"],
        ["p-12", "Tab\there", "", "", "", ""],
        ["p-13", "Zoë", "", "", "", ""],
        ["p-14", "\u200bZero width\u200b", "", "", "", ""],
        ["   ", "No id", "", "", "", ""],
        ["e" * 201, "", "", "", "", ""],
        ["p-15", "", "x" * 318 + "@b", "", "", ""],
    ],
)
def test_plain_rows_agree_with_the_full_rules(cells: list[str]) -> None:
    """The inline check of printable-ASCII rows gives exactly what the full rules give, or
    leaves the row to them."""
    header = list(member_import._FIELDS)
    where = tuple(range(len(header)))
    full = member_import._parsed(2, dict(zip(header, cells, strict=True)))
    plain = member_import._plain_row(cells, where)
    if plain is not None:
        assert plain == full
    else:
        assert (
            not "".join(cells).isascii()
            or not "".join(cells).isprintable()
            or isinstance(full, member_import.Rejected)
            or full[5] is not None
        )  # "+5" and "1_000" are valid, only not plain digits


async def test_a_member_created_meanwhile_is_updated_not_lost(
    database, tenant, database_url, tmp_path
) -> None:
    """An inbound webhook creates a member the import is about to create: the import's INSERT
    waits on the unique index, loses, runs again with ON CONFLICT and updates that member."""
    if database != "postgres":
        pytest.skip("SQLite has one writer: nothing can create the member meanwhile")
    tenant_id = tenant.tenant.id
    rows = "\n".join(f"race-{n},Racer {n},r{n}@example.com,true,gold,{n}" for n in range(50))
    path = _write(
        tmp_path,
        "race.csv",
        "external_id,display_name,email,verified,tier,customer_value_cents\n" + rows + "\n",
    )
    other = await asyncpg.connect(database_url)
    try:
        webhook = other.transaction()
        await webhook.start()
        await other.execute(
            'INSERT INTO "member" ("tenant_id", "external_id", "display_name", "verified", '
            '"customer_value_cents", "reputation", "level", "created_at", "updated_at") '
            "VALUES ($1, 'race-7', 'From the shop', false, 999, 0, 0, now(), now())",
            tenant_id,
        )
        importing = asyncio.create_task(import_file(path))
        # Within a transaction pg_stat_activity is a snapshot: take a fresh one each time.
        while await other.execute("SELECT pg_stat_clear_snapshot()") and not await other.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%INSERT INTO \"member\"%' AND pid <> pg_backend_pid()"
        ):
            assert not importing.done(), importing.result()
            await asyncio.sleep(0.05)
        await webhook.commit()
        report = await importing
    finally:
        await other.close()
    assert (report.created, report.updated, report.rejected) == (49, 1, [])
    racer = await Member.get(external_id="race-7")
    assert (racer.display_name, racer.verified, racer.customer_value_cents) == ("Racer 7", True, 7)
    assert await Member.filter(external_id__startswith="race-").count() == 50


async def test_import_and_inbound_webhooks_on_the_same_members(tenant, tmp_path) -> None:
    """Webhooks change the value of members an import is writing, at the same time: every write
    lands (each member ends with one writer's value), and the idea's supporter value equals a
    recount of its supporters' final values."""
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    fans = [
        await factories.member(external_id=f"fan-{n}", customer_value_cents=1) for n in range(20)
    ]
    for fan in fans:
        await votes.cast_vote(fan, idea.id, VoteValue.UP)
    lines = [f"fan-{n},{1000 + n}" for n in range(20)]
    lines += [f"new-{n},{n}" for n in range(3000)]
    path = _write(tmp_path, "mix.csv", "external_id,customer_value_cents\n" + "\n".join(lines))

    async def webhook(n: int) -> None:
        change = inbound.generic_change(
            {
                "type": "customer.updated",
                "data": {"externalId": f"fan-{n}", "customerValueCents": 5000 + n},
            }
        )
        await inbound.apply_once(IntegrationKind.INBOUND, f"wh-{n}", "customer.updated", change)

    report, _ = await asyncio.gather(
        import_file(path), asyncio.gather(*(webhook(n) for n in range(20)))
    )
    assert (report.created, report.updated, report.rejected) == (3000, 20, [])
    values = {
        m.external_id: m.customer_value_cents
        for m in await Member.filter(external_id__startswith="fan-")
    }
    assert all(values[f"fan-{n}"] in (1000 + n, 5000 + n) for n in range(20)), values
    fresh = await Idea.get(id=idea.id)
    assert fresh.supporter_count == 20
    assert fresh.supporter_value_cents == sum(values.values())
