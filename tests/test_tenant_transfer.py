"""`cosource tenant export` and `tenant import`: a brand moved to an empty database is the same brand.

The brand is built in the session's database (SQLite or PostgreSQL) through the engine, exported by
the CLI, imported into a fresh SQLite database, and exported again: the two files must be equal
line for line (but for the export time), which is every row and every column of every table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from engine import comments, merges, pledges, votes
from engine.models import ThresholdMetric
from engine.tenants import NewTenant
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending
from webhooks.endpoints import EndpointInput, create_endpoint

COSOURCE = [sys.executable, "-m", "api.cli"]


def cli(*args: str, url: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*COSOURCE, *args],
        capture_output=True,
        timeout=120,
        env={**os.environ, "COSOURCE_DATABASE_URL": url},
        check=False,
    )


async def _rich_brand() -> None:
    author, fan, critic = await factories.members(3)
    campaign = await factories.campaign(
        thresholds=(ThresholdSpec(ThresholdMetric.NET_VOTES, 1, name="One vote"),)
    )
    first = await factories.idea(author, campaign)
    second = await factories.idea(author, campaign)
    await votes.cast_vote(fan, first.id, VoteValue.UP)  # crosses the threshold
    await votes.cast_vote(critic, second.id, VoteValue.DOWN)
    await pledges.pledge(fan, second.id, 2)
    parent = await comments.add_comment(fan, first.id, "Love it")
    await comments.add_comment(author, first.id, "Thanks!", parent_id=parent.id)
    await merges.merge_ideas(second.id, first.id, "Same idea")  # a self-reference to keep
    await create_endpoint(EndpointInput(url="https://8.8.8.8/hook"))
    await process_pending()  # ledger entries, levels, badges


async def test_a_brand_moved_to_an_empty_database_exports_the_same(
    tenant: NewTenant, database_url: str, tmp_path: Path
) -> None:
    await _rich_brand()
    slug = tenant.tenant.slug
    first = cli("tenant", "export", slug, "--output", str(tmp_path / "a.jsonl"), url=database_url)
    assert first.returncode == 0, first.stderr.decode()
    target = f"sqlite://{tmp_path / 'target.db'}"
    assert cli("migrate", url=target).returncode == 0
    imported = cli("tenant", "import", str(tmp_path / "a.jsonl"), url=target)
    assert imported.returncode == 0, imported.stderr.decode()
    again = cli("tenant", "export", slug, "--output", str(tmp_path / "b.jsonl"), url=target)
    assert again.returncode == 0, again.stderr.decode()

    a = [orjson.loads(line) for line in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    b = [orjson.loads(line) for line in (tmp_path / "b.jsonl").read_bytes().splitlines()]
    a[0].pop("exportedAt"), b[0].pop("exportedAt")
    assert a == b
    tables = {line["table"] for line in a[1:]}
    assert {
        "tenant",
        "member",
        "idea",
        "vote",
        "pledge",
        "comment",
        "domain_event",
        "threshold_crossing",
        "idea_merge",
        "reputation_entry",
        "webhook_endpoint",
        "api_key",
    } <= tables
    merged = [x["row"] for x in a[1:] if x["table"] == "idea" and x["row"]["merged_into_id"]]
    assert merged, "the merge's self-reference travelled"
    # Importing the same brand twice is refused and changes nothing.
    twice = cli("tenant", "import", str(tmp_path / "a.jsonl"), url=target)
    assert twice.returncode == 1 and b"exists here" in twice.stderr


async def test_bad_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    target = f"sqlite://{tmp_path / 'empty.db'}"
    assert cli("migrate", url=target).returncode == 0
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"hello": 1}\n')
    result = cli("tenant", "import", str(junk), url=target)
    assert result.returncode == 1 and b"not a Cosource tenant export" in result.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    result = cli("tenant", "import", str(broken), url=target)
    assert result.returncode == 1 and b"line 1 is not JSON" in result.stderr
    missing = cli("tenant", "export", "no-such-brand", url=target)
    assert missing.returncode == 1 and b"no brand" in missing.stderr
