"""`cosource reputation rebuild` as a user runs it: a subprocess on the session's database."""

from __future__ import annotations

from engine import votes
from engine.models import Member
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending
from tests.test_cli import run


async def test_rebuild_reports_members_that_differed_and_repairs_them(tenant, database_url) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    await Member.filter(id=author.id).update(reputation=7, level=3)
    env = {"COSOURCE_DATABASE_URL": database_url}
    slug = tenant.tenant.slug

    result = run("reputation", "rebuild", "--tenant", slug, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{slug}: 2 members checked, 1 differed from the ledger" in result.stdout
    assert author.external_id in result.stdout
    assert "3 -> 1" in result.stdout
    repaired = await Member.get(id=author.id)
    assert (repaired.reputation, repaired.level) == (15, 1)

    again = run("reputation", "rebuild", "--tenant", slug, env=env)
    assert again.returncode == 0, again.stderr
    assert "Every stored total agrees with the ledger" in again.stdout

    unknown = run("reputation", "rebuild", "--tenant", "no-such-brand", env=env)
    assert unknown.returncode == 1
    assert "no-such-brand" in unknown.stderr
