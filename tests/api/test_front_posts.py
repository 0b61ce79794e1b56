"""The compiled-POST front path (api/front.py, PlanPosts): what it answers is what the full app
would have (bytes and headers, CORS, request ids, metrics, rate limits, deadlines, outages), and
everything it cannot answer falls through to the full app, counted once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import asyncpg
import pytest

from api.front import PlanPosts
from api.ratelimit import MemoryRateLimiter, RateLimits, RequestLimiter
from api.types.ids import decode_id, encode_id
from engine import keys
from engine.models import ApiKey, DomainEvent, Vote
from engine.tenancy import tenant_scope
from tests import factories
from tests.api.conftest import member_token
from tests.api.test_front import SHOP, _sample, _without_id, counted
from tests.api.test_persisted_cache import _setup
from tests.conftest import count_queries

HOT = """query Hot($c: ID!, $n: Int = 20, $a: String) {
  ideas(campaignId: $c, first: $n, after: $a, orderBy: TOP) {
  edges { node { id title counts { netVotes upvotes } author { displayName } } } } }"""
MINE = HOT.replace("query Hot", "query Mine").replace(
    "author { displayName }", "author { displayName } viewerVote viewerPledge"
)


def _app(api: Any) -> Any:
    return api.client._transport.app


def _posts(api: Any) -> PlanPosts:
    posts = _app(api).posts
    assert isinstance(posts, PlanPosts)
    return posts


def _counts(api: Any) -> AbstractContextManager[dict[str, int]]:
    """How many POSTs the front path answered and passed on inside the block."""
    return counted(_posts(api))


@contextmanager
def _full_app_only(api: Any) -> Iterator[None]:
    posts = _app(api).posts
    _app(api).posts = None
    try:
        yield
    finally:
        _app(api).posts = posts


async def _post(
    api: Any, query: str, variables: dict[str, Any], name: str | None = None, **headers: str
) -> Any:
    body = {"query": query, "variables": variables, "operationName": name}
    return await api.client.post("/graphql", json=body, headers=headers)


async def _learned(api: Any, tenant: Any, query: str = HOT, **headers: str) -> str:
    """A campaign whose read has a compiled plan (its first answer came from the executor)."""
    gid, _, _ = await _setup(api, tenant)
    first = await _post(
        api, query, {"c": gid}, **{"X-Cosource-Key": tenant.publishable_key}, **headers
    )
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    return gid


async def test_a_compiled_post_is_answered_in_front_with_the_full_apps_bytes_and_headers(
    api, tenant
) -> None:
    pk = tenant.publishable_key
    token = member_token(tenant, "cus_posts")
    gid = await _learned(api, tenant)
    await _post(api, MINE, {"c": gid}, **{"X-Cosource-Key": pk, "Authorization": f"Bearer {token}"})
    asks: list[dict[str, str]] = [
        {"X-Cosource-Key": pk},
        {"X-Cosource-Key": pk, "Origin": SHOP},
        {"X-Cosource-Key": pk, "Authorization": f"Bearer {token}"},
    ]
    queries = [HOT, HOT, MINE]
    with _counts(api) as counts:
        fast = [await _post(api, q, {"c": gid}, **h) for q, h in zip(queries, asks, strict=True)]
    assert counts == {"answered": 3, "passed": 0}
    with _full_app_only(api):
        full = [await _post(api, q, {"c": gid}, **h) for q, h in zip(queries, asks, strict=True)]
    for a, b in zip(fast, full, strict=True):
        assert a.status_code == b.status_code == 200
        assert a.content == b.content
        assert _without_id(a.headers) == _without_id(b.headers)
    assert fast[1].headers["access-control-allow-origin"] == SHOP
    assert fast[2].json()["data"]["ideas"]["edges"][0]["node"]["viewerVote"] == "NONE"


async def test_a_compiled_post_runs_its_statement_alone(api, tenant) -> None:
    gid = await _learned(api, tenant)
    with _counts(api) as counts, count_queries() as log:
        answer = await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": tenant.publishable_key})
    assert counts == {"answered": 1, "passed": 0}
    assert answer.json()["data"]["ideas"]["edges"]
    assert log.count == 1, log.statements  # the page; key and plan came from memory


async def test_what_the_front_cannot_answer_falls_through_once(api, tenant) -> None:
    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    plans = _app(api).state.graphql.plans
    fallbacks = plans.fallbacks
    with _counts(api) as counts:
        # A malformed cursor: the plan steps aside and the executor reports it, once.
        cursor = await _post(api, HOT, {"c": gid, "a": "not-a-cursor"}, **{"X-Cosource-Key": pk})
        broken = await api.client.post(
            "/graphql",
            content=b'{"query": ',
            headers={"X-Cosource-Key": pk, "Content-Type": "application/json"},
        )
        unknown = await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": "pk_unknown"})
        secret = await _post(api, HOT, {"c": gid}, Authorization=f"Bearer {tenant.secret_key}")
        fresh_token = member_token(tenant, "cus_not_cached_yet")
        member = await _post(
            api, HOT, {"c": gid}, **{"X-Cosource-Key": pk, "Authorization": f"Bearer {fresh_token}"}
        )
        other_document = await _post(api, HOT + " ", {"c": gid}, **{"X-Cosource-Key": pk})
    assert counts == {"answered": 0, "passed": 6}
    assert plans.fallbacks == fallbacks + 1  # tried once, in front
    with _full_app_only(api):
        cursor_full = await _post(
            api, HOT, {"c": gid, "a": "not-a-cursor"}, **{"X-Cosource-Key": pk}
        )
    assert cursor.status_code == cursor_full.status_code
    assert cursor.content == cursor_full.content and "errors" in cursor.json()
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert unknown.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert secret.status_code == member.status_code == other_document.status_code == 200
    # Now resolved and cached: the member's next read is answered in front.
    with _counts(api) as counts:
        again = await _post(
            api, HOT, {"c": gid}, **{"X-Cosource-Key": pk, "Authorization": f"Bearer {fresh_token}"}
        )
    assert counts == {"answered": 1, "passed": 0}
    assert again.content == member.content


async def test_a_refused_origin_is_the_full_apps(api, tenant) -> None:
    from api.auth import forget_cached_keys

    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    await ApiKey.filter(key_hash=keys.hash_key(pk)).update(allowed_origins=[SHOP])
    forget_cached_keys()
    await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk})  # the key is cached again
    with _counts(api) as counts:
        ok = await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk, "Origin": SHOP})
        refused = await _post(
            api, HOT, {"c": gid}, **{"X-Cosource-Key": pk, "Origin": "https://evil.example.net"}
        )
    assert counts == {"answered": 1, "passed": 1}
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in ok.headers.get_list("vary")
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in refused.headers


async def test_rate_limits_apply_and_count_each_request_once(api, tenant) -> None:
    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    counter = MemoryRateLimiter()
    _app(api).state.graphql.limiter = RequestLimiter(counter, RateLimits(key=100, ip=3))
    with _counts(api) as counts:
        answers = [await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert counts == {"answered": 3, "passed": 2}
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[3].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    key_id = (await ApiKey.get(key_hash=keys.hash_key(pk))).id
    window = next(w for (bucket, w) in counter._counts if bucket == f"ip:{key_id}:127.0.0.1")
    assert counter._counts[(f"ip:{key_id}:127.0.0.1", window)] == 5
    assert counter._counts[(f"key:{key_id}", window)] == 3


async def test_answers_carry_request_ids_and_are_counted_in_the_metrics(api, tenant) -> None:
    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    await _post(api, HOT, {"c": gid}, "Hot", **{"X-Cosource-Key": pk})  # a plan of its own
    before = (await api.client.get("/metrics")).text
    with _counts(api) as counts:
        sent = await _post(
            api, HOT, {"c": gid}, "Hot", **{"X-Cosource-Key": pk, "X-Request-Id": "t-1"}
        )
        fresh = await _post(api, HOT, {"c": gid}, "Hot", **{"X-Cosource-Key": pk})
    assert counts == {"answered": 2, "passed": 0}
    assert sent.headers["x-request-id"] == "t-1"
    assert fresh.headers["x-request-id"].startswith("req_")
    text = (await api.client.get("/metrics")).text
    ok = {"route": "/graphql", "operation": "Hot", "outcome": "ok"}
    total = "cosource_http_requests_total"
    assert _sample(text, total, **ok) - _sample(before, total, **ok) == 2


async def test_a_deadline_and_an_outage_are_answered_as_the_full_app_answers(
    api, tenant, monkeypatch
) -> None:
    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    plans = _app(api).state.graphql.plans
    view = _app(api).state.graphql

    async def slow(*args: Any, **kwargs: Any) -> bytes:
        await asyncio.sleep(5)
        return b"{}"

    async def down(*args: Any, **kwargs: Any) -> bytes:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")

    answers = {}
    for name, replacement in (("slow", slow), ("down", down)):
        monkeypatch.setattr(plans, "run", replacement)
        monkeypatch.setattr(view, "timeout_seconds", 0.05)
        with _counts(api) as counts:
            fast = await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk})
        assert counts == {"answered": 1, "passed": 0}
        with _full_app_only(api):
            full = await _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk})
        assert fast.status_code == full.status_code == 503
        assert fast.content == full.content
        assert _without_id(fast.headers) == _without_id(full.headers)
        answers[name] = fast.json()["errors"][0]["extensions"]["code"]
    assert answers == {"slow": "QUERY_TIMEOUT", "down": "SERVICE_UNAVAILABLE"}


@pytest.mark.parametrize("body", [b'{"query": 1}', b"[]", b'{"query": "{ x }", "variables": 3}'])
async def test_bad_bodies_get_the_full_apps_answer(api, tenant, body: bytes) -> None:
    pk = tenant.publishable_key
    await _learned(api, tenant)
    headers = {"X-Cosource-Key": pk, "Content-Type": "application/json"}
    with _counts(api) as counts:
        fast = await api.client.post("/graphql", content=body, headers=headers)
    assert counts == {"answered": 0, "passed": 1}
    with _full_app_only(api):
        full = await api.client.post("/graphql", content=body, headers=headers)
    assert fast.status_code == full.status_code == 400
    assert fast.content == full.content


# ---- compiled member actions ---------------------------------------------------------------------

# No idea id in the answer: two fresh ideas voted on alike answer the same bytes.
VOTE = """mutation V($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {
  idea { counts { upvotes downvotes netVotes } viewerVote } userErrors { code } } }"""


async def _voting(api: Any, tenant: Any, external_id: str) -> tuple[dict[str, str], list[str]]:
    """A member whose token is cached and a vote plan learned (the executor answered the
    member's first vote), and fresh ideas to vote on."""
    author = await factories.member()
    campaign = await factories.campaign()
    ideas = [encode_id("Idea", (await factories.idea(author, campaign)).id) for _ in range(8)]
    auth = {
        "X-Cosource-Key": tenant.publishable_key,
        "Authorization": f"Bearer {member_token(tenant, external_id)}",
    }
    first = await _post(api, VOTE, {"i": ideas.pop(), "v": "UP"}, "V", **auth)
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    await api.background.queue.drain()
    return auth, ideas


async def test_a_compiled_vote_is_answered_in_front_with_the_full_apps_bytes_and_headers(
    api, tenant
) -> None:
    auth, ideas = await _voting(api, tenant, "cus_front_vote")
    asks = [auth, {**auth, "Origin": SHOP}]
    with _counts(api) as counts:
        fast = [
            await _post(api, VOTE, {"i": ideas[n], "v": "UP"}, "V", **h) for n, h in enumerate(asks)
        ]
    assert counts == {"answered": 2, "passed": 0}
    with _full_app_only(api):
        full = [
            await _post(api, VOTE, {"i": ideas[2 + n], "v": "UP"}, "V", **h)
            for n, h in enumerate(asks)
        ]
    for a, b in zip(fast, full, strict=True):
        assert a.status_code == b.status_code == 200
        assert a.content == b.content
        assert _without_id(a.headers) == _without_id(b.headers)
    assert fast[0].json()["data"]["vote"] == {
        "idea": {"counts": {"upvotes": 1, "downvotes": 0, "netVotes": 1}, "viewerVote": "UP"},
        "userErrors": [],
    }
    assert fast[1].headers["access-control-allow-origin"] == SHOP
    await api.background.queue.drain()


async def test_a_vote_answered_in_front_carries_its_request_id_into_its_event(api, tenant) -> None:
    auth, ideas = await _voting(api, tenant, "cus_front_id")
    with _counts(api) as counts:
        answer = await _post(
            api, VOTE, {"i": ideas[0], "v": "DOWN"}, "V", **auth, **{"X-Request-Id": "vote-7"}
        )
    assert counts == {"answered": 1, "passed": 0}
    assert answer.headers["x-request-id"] == "vote-7"
    with tenant_scope(tenant.tenant.id):
        event = await DomainEvent.filter(type="idea.voted").order_by("-id").first()
    assert event is not None and event.request_id == "vote-7"
    await api.background.queue.drain()


async def test_a_vote_that_does_not_coerce_is_the_executors_and_a_bad_id_the_plans(
    api, tenant
) -> None:
    auth, ideas = await _voting(api, tenant, "cus_front_bad")
    plans = _app(api).state.graphql.plans
    fallbacks = plans.fallbacks
    cases = [{"i": ideas[0], "v": "SIDEWAYS"}, {"i": "bm90IGFuIGlk", "v": "UP"}]
    with _counts(api) as counts:
        fast = [await _post(api, VOTE, v, "V", **auth) for v in cases]
    # The bad value steps aside before anything runs (the executor answers it, the plan is not
    # tried again); a bad id is the action's own userError, answered by the plan.
    assert counts == {"answered": 1, "passed": 1}
    assert plans.fallbacks == fallbacks + 1
    with _full_app_only(api):
        full = [await _post(api, VOTE, v, "V", **auth) for v in cases]
    for a, b in zip(fast, full, strict=True):
        assert a.status_code == b.status_code
        assert a.content == b.content
    assert fast[0].json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert fast[1].json()["data"]["vote"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_votes_are_rate_limited_in_front_and_counted_once(api, tenant) -> None:
    auth, ideas = await _voting(api, tenant, "cus_front_limited")
    counter = MemoryRateLimiter()
    _app(api).state.graphql.limiter = RequestLimiter(counter, RateLimits(key=100, member=2))
    with _counts(api) as counts:
        answers = [await _post(api, VOTE, {"i": i, "v": "UP"}, "V", **auth) for i in ideas[:4]]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert counts == {"answered": 2, "passed": 2}
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:2]] == ["1", "0"]
    assert answers[2].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    member = next(b for (b, _) in counter._counts if str(b).startswith("member:"))
    window = next(w for (b, w) in counter._counts if b == member)
    assert counter._counts[(member, window)] == 4
    with tenant_scope(tenant.tenant.id):
        assert (
            await Vote.filter(idea_id__in=[decode_id(i, "Idea", "i") for i in ideas[2:4]]).count()
            == 0
        )
    await api.background.queue.drain()


async def test_a_vote_past_its_deadline_or_in_an_outage_is_answered_in_front_and_run_once(
    api, tenant, monkeypatch
) -> None:
    from engine import votes

    auth, ideas = await _voting(api, tenant, "cus_front_fault")
    view = _app(api).state.graphql
    calls: list[str] = []

    async def slow(*args: Any, **kwargs: Any) -> Any:
        calls.append("slow")
        await asyncio.sleep(5)

    async def down(*args: Any, **kwargs: Any) -> Any:
        calls.append("down")
        raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")

    answers = {}
    for name, replacement in (("slow", slow), ("down", down)):
        monkeypatch.setattr(votes, "cast_vote", replacement)
        monkeypatch.setattr(view, "timeout_seconds", 0.05)
        with _counts(api) as counts:
            fast = await _post(api, VOTE, {"i": ideas[0], "v": "UP"}, "V", **auth)
        assert counts == {"answered": 1, "passed": 0}
        assert calls == [name]  # never handed to the executor to run again
        with _full_app_only(api):
            full = await _post(api, VOTE, {"i": ideas[0], "v": "UP"}, "V", **auth)
        assert calls == [name, name]
        calls.clear()
        assert fast.status_code == full.status_code == 503
        assert fast.content == full.content
        assert _without_id(fast.headers) == _without_id(full.headers)
        answers[name] = fast.json()["errors"][0]["extensions"]["code"]
    assert answers == {"slow": "QUERY_TIMEOUT", "down": "SERVICE_UNAVAILABLE"}


@contextmanager
def _slots_held(api: Any) -> Iterator[None]:
    """Every slot of the request gate taken, as by requests at work."""
    gate = _posts(api).gate
    held = gate.capacity
    gate.active += held
    try:
        yield
    finally:
        for _ in range(held):
            gate.release()


async def test_a_deadline_passing_at_the_gate_is_answered_without_running_the_request(
    api, tenant, monkeypatch
) -> None:
    """The deadline runs from arrival: a request still waiting at the gate when it passes gets
    the deadline's 503 there, on the front path and in the full app alike, and never runs."""
    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    view = _app(api).state.graphql
    ran: list[str] = []
    run = view.plans.run

    async def counted_run(*args: Any, **kwargs: Any) -> Any:
        ran.append("plan")
        return await run(*args, **kwargs)

    monkeypatch.setattr(view.plans, "run", counted_run)
    monkeypatch.setattr(view, "timeout_seconds", 0.2)
    answers = []
    for front in (True, False):
        with _slots_held(api), nullcontext() if front else _full_app_only(api):
            waiting = asyncio.create_task(
                _post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk, "Origin": SHOP})
            )
            done, _ = await asyncio.wait({waiting}, timeout=10)
        assert done, "answered only once a slot was free"
        answers.append(waiting.result())
    fast, full = answers
    assert fast.status_code == full.status_code == 503
    assert fast.json()["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT"
    assert fast.content == full.content
    assert _without_id(fast.headers) == _without_id(full.headers)
    assert fast.headers["access-control-allow-origin"] == SHOP  # the key's page can read it
    assert ran == []
    assert _posts(api).gate.active == 0


async def test_a_request_admitted_late_has_only_the_rest_of_its_deadline(
    api, tenant, monkeypatch
) -> None:
    pk = tenant.publishable_key
    gid = await _learned(api, tenant)
    view = _app(api).state.graphql
    run = view.plans.run

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)
        return await run(*args, **kwargs)

    monkeypatch.setattr(view.plans, "run", slow)
    monkeypatch.setattr(view, "timeout_seconds", 0.5)
    codes = []
    for front in (True, False):
        with _slots_held(api), nullcontext() if front else _full_app_only(api):
            waiting = asyncio.create_task(_post(api, HOT, {"c": gid}, **{"X-Cosource-Key": pk}))
            await asyncio.sleep(0.3)  # then a slot frees: 0.3 s waited + 0.3 s of work > 0.5 s
        answer = await waiting
        codes.append((answer.status_code, answer.json()["errors"][0]["extensions"]["code"]))
    assert codes == [(503, "QUERY_TIMEOUT")] * 2
