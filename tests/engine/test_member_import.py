"""Bulk member import: good rows in, each bad row reported by line, malformed files write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import member_import, votes
from engine.errors import DomainError
from engine.member_import import MalformedFile, import_file
from engine.models import Idea, Member
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
