"""SQL statements per member action are pinned: the hot write path must not grow unnoticed."""

from __future__ import annotations

from api.types.ids import encode_id
from tests import factories
from tests.api.conftest import member_token
from tests.conftest import count_queries

VOTE = """mutation($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {
  idea { id counts { upvotes downvotes netVotes } viewerVote } userErrors { code } } }"""


async def test_a_vote_runs_a_fixed_number_of_statements(api, tenant, monkeypatch, database) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    token = member_token(tenant, "cus_counted")
    gid = encode_id("Idea", idea.id)
    await api.data(VOTE, {"i": gid, "v": "DOWN"}, pk=tenant.publishable_key, token=token)  # warm
    await api.background.queue.drain()
    held: list[tuple[str, tuple]] = []  # type: ignore[type-arg]

    async def hold(function: str, *args, **kwargs) -> bool:
        held.append((function, args))  # the jobs run after counting: only the request is counted
        return True

    monkeypatch.setattr(api.background.queue, "enqueue", hold)
    with count_queries() as log:
        data = await api.data(VOTE, {"i": gid, "v": "UP"}, pk=tenant.publishable_key, token=token)
    monkeypatch.undo()
    assert [name for name, _ in held] == ["process_events"]
    assert data["vote"]["idea"]["counts"] == {"upvotes": 1, "downvotes": 0, "netVotes": 1}
    assert data["vote"]["idea"]["viewerVote"] == "UP"
    # Member lookup, idea (locked), campaign, vote (locked), vote update, counter update, counter
    # read-back, sort keys, event, thresholds, the viewer's vote: a change that adds one must
    # update this number (and say why). PostgreSQL adds the campaign gate's shared advisory lock
    # (engine.campaign_gate: no vote commits after its campaign closed).
    assert log.count == (12 if database == "postgres" else 11), log.statements
