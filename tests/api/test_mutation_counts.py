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
    app = api.client._transport.app
    compiled, posts = app.state.graphql.plans, app.posts
    hits, answered = compiled.hits, posts.answered
    with count_queries() as log:
        data = await api.data(VOTE, {"i": gid, "v": "UP"}, pk=tenant.publishable_key, token=token)
    monkeypatch.undo()
    # The warm-up taught the compiled plan (api/plans/actions.py): it answered this one,
    # in front of Starlette (api.front.PlanPosts).
    assert compiled.hits == hits + 1
    assert posts.answered == answered + 1
    assert [name for name, _ in held] == ["process_events"]
    assert data["vote"]["idea"]["counts"] == {"upvotes": 1, "downvotes": 0, "netVotes": 1}
    assert data["vote"]["idea"]["viewerVote"] == "UP"
    # PostgreSQL: one read (the idea with its campaign and the member, unlocked; the member's vote
    # locked; the campaign gate, a shared advisory lock, so no vote commits after its campaign
    # closed); one statement that writes the vote, locks the idea through the guard (re-checking
    # the campaign behind the gate), moves the counters and, the idea being as it was read,
    # writes the sort keys, steps the supporters and inserts the event, saying whether a
    # threshold may be reached (engine.counters.bump, with ``seen``). SQLite cannot write inside
    # a WITH: the same steps one statement each. The viewer's vote is the one just cast. A change
    # that adds one must update this.
    assert log.count == (2 if database == "postgres" else 5), log.statements
    locking = "WITH w AS" if database == "postgres" else "UPDATE idea"
    locked = log.statements.index(next(s for s in log.statements if s.startswith(locking)))
    # Statements that run while the idea's row lock is held, the locking one included.
    assert len(log.statements) - locked == (1 if database == "postgres" else 3)
