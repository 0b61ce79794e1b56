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
    # Member lookup, idea with its campaign (unlocked), the member's vote (locked), the campaign
    # gate (PostgreSQL's shared advisory lock: no vote commits after its campaign closed) and the
    # campaign read again behind it, vote update; then with the idea locked: the guarded counter
    # update (returning the counters and whether a threshold may be reached), the supporters'
    # recount (its own statement, so it sees member values committed before the lock), sort keys,
    # event. The viewer's vote is the one just cast. A change that adds one must update this.
    assert log.count == (10 if database == "postgres" else 9), log.statements
    locked = log.statements.index(next(s for s in log.statements if s.startswith("UPDATE idea")))
    assert len(log.statements) - locked == 4  # statements holding the idea's row lock
