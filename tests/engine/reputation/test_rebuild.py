"""Rebuild: totals and levels recomputed from the ledger, drifted members reported."""

from __future__ import annotations

from engine import votes
from engine.models import Member
from engine.reputation.rebuild import rebuild
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending


async def test_rebuild_reports_and_repairs_drift(tenant) -> None:
    author, voter, idle = await factories.members(3)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    clean = await rebuild(chunk=2)
    assert clean.members == 3 and clean.drifts == []
    await Member.filter(id=author.id).update(reputation=999, level=4)
    await Member.filter(id=idle.id).update(reputation=-3)
    seen: list[tuple[int, int]] = []
    report = await rebuild(chunk=2, progress=lambda done, total: seen.append((done, total)))
    assert [(d.member_id, d.stored, d.ledger, d.stored_level, d.level) for d in report.drifts] == [
        (author.id, 999, 15, 4, 1),
        (idle.id, -3, 0, 0, 0),
    ]
    assert seen == [(2, 3), (3, 3)]
    assert (await Member.get(id=author.id)).reputation == 15
    assert (await rebuild()).drifts == []
