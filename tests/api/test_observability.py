"""Request ids, JSON logs, /readyz and the HTTP metrics."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from api.logs import dict_config
from engine import db
from engine.models import DomainEvent
from engine.settings import Settings
from tests import factories
from tests.api.conftest import member_token

VOTE = """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }"""


async def test_request_ids_are_returned_accepted_and_generated(api, tenant) -> None:
    given = await api.post(
        "{ viewer { id } }", sk=tenant.secret_key, headers={"X-Request-Id": "abc-123"}
    )
    assert given.headers["x-request-id"] == "abc-123"
    fresh = await api.post("{ viewer { id } }", sk=tenant.secret_key)
    other = await api.post("{ viewer { id } }", sk=tenant.secret_key)
    assert fresh.headers["x-request-id"].startswith("req_")
    assert fresh.headers["x-request-id"] != other.headers["x-request-id"]
    # Not a sane token (too long, spaces, header injection): replaced, not echoed.
    for bad in ("x" * 200, "a b", "id\r\nSet-Cookie: x"):
        response = await api.post(
            "{ viewer { id } }",
            sk=tenant.secret_key,
            headers={"X-Request-Id": bad.replace("\r\n", " ")},
        )
        assert response.headers["x-request-id"].startswith("req_")
    # Every route, and refusals before GraphQL, have one.
    assert (await api.client.get("/healthz")).headers["x-request-id"]
    too_big = await api.client.post("/graphql", content=b"x" * 300_000)
    assert too_big.status_code == 413 and too_big.headers["x-request-id"]


async def test_the_request_id_reaches_events_jobs_and_deliveries(api, tenant, caplog) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { ideas { edges { node { id } } } } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["ideas"]["edges"][0]["node"]["id"]
    caplog.set_level(logging.INFO)
    response = await api.post(
        VOTE,
        {"i": gid},
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_traced"),
        headers={"X-Request-Id": "trace-vote-1"},
    )
    assert response.json()["data"]["vote"]["userErrors"] == []
    await api.background.queue.drain()
    event = await DomainEvent.filter(idea_id=idea.id, type="idea.voted").first()
    assert event is not None and event.request_id == "trace-vote-1"
    access = [r for r in caplog.records if r.name == "cosource.access"]
    assert any(getattr(r, "operation", None) == "anonymous" and r.status == 200 for r in access)


def test_logs_are_json_lines_with_the_request_id() -> None:
    from engine import request_ids

    spec = dict(dict_config(Settings(log_format="json"))["formatters"]["cosource"])
    formatter = spec.pop("()")(**spec)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("cosource.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        with request_ids.bound("req_log_test"):
            logger.info("webhook attempt", extra={"delivery_id": 7, "outcome": "success"})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines()[:2])
    assert first["event"] == "webhook attempt" and first["level"] == "info"
    assert first["request_id"] == "req_log_test"
    assert first["delivery_id"] == 7 and first["outcome"] == "success"
    assert first["logger"] == "cosource.test.json" and first["timestamp"].endswith("Z")
    assert "request_id" not in second and "ValueError: boom" in second["exception"]


async def test_readyz_checks_the_database_and_migrations(api, tenant, monkeypatch) -> None:
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "migrations": "ok"}
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}

    async def behind() -> list[str]:
        return ["0099_future"]

    monkeypatch.setattr(db, "pending_migrations", behind)
    not_ready = await api.client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["migrations"] == "pending: 0099_future"
    assert (await api.client.get("/healthz")).status_code == 200


async def test_pending_migrations_reads_the_database(database) -> None:
    assert await db.pending_migrations() == []


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_http_metrics_by_operation_and_outcome(api, tenant) -> None:
    before = (await api.client.get("/metrics")).text
    for _ in range(3):
        await api.client.post(
            "/graphql",
            json={
                "query": "query WidgetIdeas { campaigns { totalCount } }",
                "operationName": "WidgetIdeas",
            },
            headers={"x-cosource-key": tenant.publishable_key},
        )
    await api.client.post("/graphql", content=b"1", headers={"content-type": "application/json"})
    await api.post("query Denied { members { totalCount } }", pk=tenant.publishable_key)
    for i in range(3):  # random names do not grow the label set without bound
        await api.post(f"query Q{i}x{'y' * 80} {{ viewer {{ id }} }}", pk=tenant.publishable_key)
    text = (await api.client.get("/metrics")).text
    total = "cosource_http_requests_total"
    ok = dict(route="/graphql", operation="WidgetIdeas", outcome="ok")
    assert _sample(text, total, **ok) - _sample(before, total, **ok) == 3
    bad = dict(route="/graphql", operation="anonymous", outcome="BAD_REQUEST")
    assert _sample(text, total, **bad) - _sample(before, total, **bad) == 1
    denied = dict(route="/graphql", operation="anonymous", outcome="FORBIDDEN")
    assert _sample(text, total, **denied) - _sample(before, total, **denied) == 1
    assert (
        _sample(
            text,
            "cosource_http_request_duration_seconds_count",
            route="/graphql",
            operation="WidgetIdeas",
        )
        >= 3
    )
    assert 'le="0.005"' in text


@pytest.mark.parametrize("name", ["", None, "bad name", "x" * 70])
def test_odd_operation_names_are_bucketed(name) -> None:
    from api.access import operation_label

    assert operation_label(name) in {"anonymous", "other"}
