"""`cosource similarity backfill` as a user runs it: a subprocess on the session's database."""

from __future__ import annotations

from engine.models import IdeaVector
from tests import factories
from tests.test_cli import run


async def test_backfill_embeds_ideas_that_have_no_vectors(tenant, database_url) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(3)]  # events left unprocessed
    env = {"COSOURCE_DATABASE_URL": database_url}
    slug = tenant.tenant.slug

    result = run("similarity", "backfill", "--tenant", slug, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Backfilled. 3 idea(s) embedded." in result.stdout
    assert "3/3" in result.stderr  # the progress bar
    assert await IdeaVector.filter(idea_id__in=[i.id for i in ideas]).count() == 3

    again = run("similarity", "backfill", "--tenant", slug, env=env, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "0 idea(s) embedded" in again.stdout

    unknown = run("similarity", "backfill", "--tenant", "no-such-brand", env=env)
    assert unknown.returncode == 1
    assert "no-such-brand" in unknown.stderr

    lexical = run("similarity", "backfill", env={**env, "COSOURCE_SIMILARITY_EMBEDDINGS": "false"})
    assert lexical.returncode == 1
    assert "not available" in lexical.stderr
