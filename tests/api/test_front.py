"""The cache-hit front path (api/front.py): what it answers is what the full app would have, with
the same key and origin checks, rate limits, metrics, request ids and access log; everything
else falls through to the full app."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from api.auth import forget_cached_keys
from api.front import CacheHits, PlanPosts
from api.ratelimit import ClientAddress, MemoryRateLimiter, RateLimits, RequestLimiter
from engine import keys, request_ids
from engine.models import ApiKey
from tests.api.conftest import member_token
from tests.api.test_persisted_cache import _get, _params, _register, _setup
from tests.conftest import count_queries

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"


def _app(api):
    return api.client._transport.app


def _front(api) -> CacheHits:
    front = _app(api).front
    assert isinstance(front, CacheHits)
    return front


@contextmanager
def counted(front: CacheHits | PlanPosts) -> Iterator[dict[str, int]]:
    """How many requests a front path answered and passed on inside the block."""
    before = (front.answered, front.passed)
    seen: dict[str, int] = {}
    yield seen
    seen["answered"] = front.answered - before[0]
    seen["passed"] = front.passed - before[1]


def _counts(api) -> AbstractContextManager[dict[str, int]]:
    return counted(_front(api))


async def _cached(api, tenant) -> str:
    """A campaign whose hot read is registered and in the result cache; its global id."""
    gid, _, _ = await _setup(api, tenant)
    registered = await _register(api, tenant.publishable_key, gid)
    assert registered.status_code == 200
    # The registration named no operation: the GET (named Hot) has a cache entry of its own.
    assert (await _get(api, tenant.publishable_key, {"c": gid})).status_code == 200
    return gid


def _without_id(headers: Any) -> list[tuple[str, str]]:
    """Headers in order; the ones that differ per request by design as their names only."""
    varying = ("x-request-id", "date", "x-ratelimit-remaining")
    return [(k, "" if k in varying else v) for k, v in headers.multi_items()]


async def test_a_hit_is_answered_in_front_with_the_full_apps_bytes_and_headers(api, tenant) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    with _counts(api) as counts, count_queries() as log:
        fast = await _get(api, pk, {"c": gid})
        etag = fast.headers["etag"]
        fast_304 = await _get(api, pk, {"c": gid}, **{"If-None-Match": etag})
        fast_cors = await _get(api, pk, {"c": gid}, Origin=SHOP)
    assert counts == {"answered": 3, "passed": 0}
    assert log.count == 0, log.statements
    front = _app(api).front
    _app(api).front = None
    try:
        full = await _get(api, pk, {"c": gid})
        full_304 = await _get(api, pk, {"c": gid}, **{"If-None-Match": etag})
        full_cors = await _get(api, pk, {"c": gid}, Origin=SHOP)
    finally:
        _app(api).front = front
    assert fast.status_code == full.status_code == 200
    assert fast.content == full.content
    assert _without_id(fast.headers) == _without_id(full.headers)
    assert fast_304.status_code == full_304.status_code == 304 and fast_304.content == b""
    assert _without_id(fast_304.headers) == _without_id(full_304.headers)
    assert fast_cors.headers["access-control-allow-origin"] == SHOP
    assert _without_id(fast_cors.headers) == _without_id(full_cors.headers)


async def test_misses_and_other_requests_fall_through_to_the_full_app(api, tenant) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    with _counts(api) as counts:
        other = await _get(api, pk, {"c": gid, "unused": 1})  # another cache key: a miss
    assert counts == {"answered": 0, "passed": 1}
    assert other.status_code == 200 and other.json()["data"]["ideas"]["edges"]
    with _counts(api) as counts:
        again = await _get(api, pk, {"c": gid, "unused": 1})  # the full app cached it
    assert counts == {"answered": 1, "passed": 0}
    assert again.content == other.content
    token = member_token(tenant, "cus_front")
    with _counts(api) as counts:
        member = await _get(api, pk, {"c": gid}, Authorization=f"Bearer {token}")
        unknown = await _get(api, "pk_unknown", {"c": gid})
        with_body = await api.client.request(
            "GET", "/graphql", params=None, headers={"X-Cosource-Key": pk}, content=b"{}"
        )
        # A repeated key header: the first one counts, as in the full app.
        doubled = await api.client.get(
            "/graphql",
            params=_params({"c": gid}),
            headers=[("X-Cosource-Key", "pk_unknown"), ("X-Cosource-Key", pk)],
        )
    assert counts == {"answered": 0, "passed": 4}
    assert doubled.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert member.status_code == 200 and "etag" not in member.headers
    assert unknown.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert with_body.status_code < 500


async def test_a_write_makes_the_next_read_fall_through(api, tenant) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    before = await _get(api, pk, {"c": gid})
    idea_gid = before.json()["data"]["ideas"]["edges"][0]["node"]["id"]
    voted = await api.data(
        "mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }",
        {"i": idea_gid},
        pk=pk,
        token=member_token(tenant, "cus_front_voter"),
    )
    assert voted["vote"]["userErrors"] == []
    with _counts(api) as counts:
        after = await _get(api, pk, {"c": gid})
    assert counts == {"answered": 0, "passed": 1}
    assert after.json()["data"]["ideas"]["edges"][0]["node"]["counts"]["netVotes"] == 1


async def test_cors_follows_the_key_and_a_refused_origin_is_the_full_apps(api, tenant) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    await ApiKey.filter(key_hash=keys.hash_key(pk)).update(allowed_origins=[SHOP])
    forget_cached_keys()
    await _get(api, pk, {"c": gid})  # the key is read again and cached
    with _counts(api) as counts:
        ok = await _get(api, pk, {"c": gid}, Origin=SHOP)
    assert counts == {"answered": 1, "passed": 0}
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "etag" in ok.headers["access-control-expose-headers"]
    assert "Origin" in ok.headers.get_list("vary")
    with _counts(api) as counts:
        refused = await _get(api, pk, {"c": gid}, Origin=EVIL)
    assert counts == {"answered": 0, "passed": 1}
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("proxied", [False, True])
async def test_rate_limits_apply_and_count_each_request_once(api, tenant, proxied) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    counter = MemoryRateLimiter()
    _app(api).state.graphql.limiter = RequestLimiter(counter, RateLimits(key=100, ip=3))
    headers = {}
    client = "127.0.0.1"
    if proxied:  # the visitor behind a trusted proxy, as the full app resolves it
        _app(api).state.client_address = ClientAddress("127.0.0.1/32")
        headers, client = {"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9"
    with _counts(api) as counts:
        answers = [await _get(api, pk, {"c": gid}, **headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert counts == {"answered": 3, "passed": 2}
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = answers[3].json()["errors"][0]["extensions"]
    assert refused["code"] == "RATE_LIMITED" and int(answers[3].headers["retry-after"]) >= 1
    # Each request counted once in the visitor's bucket; the refused ones not in the key's.
    key_id = (await ApiKey.get(key_hash=keys.hash_key(pk))).id
    window = next(w for (bucket, w) in counter._counts if bucket == f"ip:{key_id}:{client}")
    assert counter._counts[(f"ip:{key_id}:{client}", window)] == 5
    assert counter._counts[(f"key:{key_id}", window)] == 3


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_hits_are_counted_in_the_http_metrics(api, tenant) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    before = (await api.client.get("/metrics")).text
    with _counts(api) as counts:
        for _ in range(3):
            await _get(api, pk, {"c": gid})
    assert counts["answered"] == 3
    text = (await api.client.get("/metrics")).text
    labels = {"route": "/graphql", "operation": "Hot"}
    total = "cosource_http_requests_total"
    ok = {**labels, "outcome": "ok"}
    assert _sample(text, total, **ok) - _sample(before, total, **ok) == 3
    duration = "cosource_http_request_duration_seconds_count"
    assert _sample(text, duration, **labels) - _sample(before, duration, **labels) == 3


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[logging.LogRecord, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record, request_ids.current()))


async def test_hits_return_a_request_id_and_log_under_it(api, tenant) -> None:
    gid = await _cached(api, tenant)
    pk = tenant.publishable_key
    lines = _Lines()
    logger = logging.getLogger("cosource.access")
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(lines)
    try:
        with _counts(api) as counts:
            sent = await _get(api, pk, {"c": gid}, **{"X-Request-Id": "trace-hit-1"})
            fresh = await _get(api, pk, {"c": gid})
            garbage = await _get(api, pk, {"c": gid}, **{"X-Request-Id": "bad id\t!"})
    finally:
        logger.removeHandler(lines)
        logger.setLevel(previous)
    assert counts == {"answered": 3, "passed": 0}
    assert sent.headers["x-request-id"] == "trace-hit-1"
    assert fresh.headers["x-request-id"].startswith("req_")
    assert garbage.headers["x-request-id"].startswith("req_")
    ids = [sent, fresh, garbage]
    logged = [(r.getMessage(), getattr(r, "status", None), bound) for r, bound in lines.seen]
    assert logged == [("request", 200, a.headers["x-request-id"]) for a in ids]


async def test_a_failure_in_front_leaves_the_request_to_the_full_app(
    api, tenant, monkeypatch, caplog
) -> None:
    gid = await _cached(api, tenant)
    front = _front(api)

    def broken(query_string: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(front, "_request", broken)
    with _counts(api) as counts:
        answer = await _get(api, tenant.publishable_key, {"c": gid})
    assert counts == {"answered": 0, "passed": 1}
    assert answer.status_code == 200 and answer.json()["data"]["ideas"]["edges"]
    assert any("cache-hit path failed" in r.getMessage() for r in caplog.records)


async def test_an_expired_key_is_looked_up_again_by_the_full_app(api, tenant, monkeypatch) -> None:
    from api import auth

    gid = await _cached(api, tenant)
    stale = {d: (0.0, *rest) for d, (_, *rest) in auth._key_cache.items()}
    monkeypatch.setattr(auth, "_key_cache", stale)
    with _counts(api) as counts, count_queries() as log:
        answer = await _get(api, tenant.publishable_key, {"c": gid})
    assert counts == {"answered": 0, "passed": 1}
    assert answer.status_code == 200 and log.count > 0  # the key was read again
    with _counts(api) as counts:
        await _get(api, tenant.publishable_key, {"c": gid})
    assert counts == {"answered": 1, "passed": 0}
