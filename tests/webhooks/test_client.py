from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from engine.settings import reset_settings
from tests.webhooks.conftest import LOOPBACK
from tests.webhooks.receiver import Receiver, Reply
from webhooks import signing
from webhooks.client import (
    EXCERPT_BYTES,
    AttemptResult,
    Outcome,
    parse_retry_after,
    send,
)

BODY = b'{"type": "webhook.test", "timestamp": "2026-11-27T10:00:00Z", "data": {}}'


def _headers(receiver: Receiver, msg_id: str = "evt_1") -> dict[str, str]:
    return signing.headers(msg_id, int(time.time()), BODY, receiver.secrets)


async def _send(
    receiver: Receiver, client: httpx.AsyncClient, *, url: str | None = None, seconds: float = 5.0
) -> AttemptResult:
    return await send(
        url or receiver.url(),
        BODY,
        _headers(receiver),
        timeout=seconds,
        allow_networks=LOOPBACK,
        client=client,
    )


async def test_2xx_is_success_and_the_receiver_verifies_the_signature(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    receiver.program(Reply(202, b"queued"))
    result = await _send(receiver, webhook_client)
    assert result.outcome is Outcome.SUCCESS
    assert (result.status_code, result.response_excerpt, result.error) == (202, "queued", None)
    assert result.remote_ip == "127.0.0.1"
    assert result.duration_ms > 0
    [request] = await receiver.wait_for_async(1)
    assert request.verified, request.verify_error
    assert (request.method, request.path, request.body) == ("POST", "/hook", BODY)
    assert request.headers["webhook-id"] == "evt_1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Cosource-Webhooks/1"


async def test_a_name_is_connected_by_its_checked_address_with_the_name_as_host(
    receiver: Receiver, webhook_client: httpx.AsyncClient, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["hooks.brand.test"] = ["127.0.0.1"]
    result = await _send(receiver, webhook_client, url=receiver.url(host="hooks.brand.test"))
    assert result.outcome is Outcome.SUCCESS and result.remote_ip == "127.0.0.1"
    [request] = await receiver.wait_for_async(1)
    assert request.headers["host"] == f"hooks.brand.test:{receiver.port}"


async def test_a_rotation_signs_with_both_secrets(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    old, new = receiver.secrets[0], signing.generate_secret()
    headers = signing.headers("evt_rot", int(time.time()), BODY, [old, new])
    for held in (old, new):
        receiver.set_secrets(held)
        result = await send(
            receiver.url(), BODY, headers, allow_networks=LOOPBACK, client=webhook_client
        )
        assert result.outcome is Outcome.SUCCESS
    assert [r.verified for r in await receiver.wait_for_async(2)] == [True, True]


async def test_a_redirect_is_a_failure_and_is_never_followed(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    receiver.program(Reply.redirect(receiver.url("/elsewhere")), then=200)
    result = await _send(receiver, webhook_client)
    assert result.outcome is Outcome.RETRY
    assert result.status_code == 302 and result.error is None
    # Even a client configured to follow redirects must not follow them for a delivery.
    async with httpx.AsyncClient(follow_redirects=True, trust_env=False) as following:
        receiver.program(Reply.redirect(receiver.url("/elsewhere")), then=200)
        assert (await _send(receiver, following)).status_code == 302
    await asyncio.sleep(0.2)  # a followed redirect would have arrived by now
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]


async def test_the_delivery_client_hands_requests_to_its_transport(
    receiver: Receiver, webhook_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make_client's attempts skip the client's layers (auth, redirects, hooks, cookies)."""

    async def refused(*args: object, **kwargs: object) -> httpx.Response:
        raise AssertionError("went through AsyncClient.send")

    monkeypatch.setattr(httpx.AsyncClient, "send", refused)
    result = await _send(receiver, webhook_client)
    assert result.outcome is Outcome.SUCCESS and result.remote_ip == "127.0.0.1"
    [request] = receiver.requests
    assert request.verified and request.headers["host"] == receiver.url().split("/")[2]
    assert not webhook_client.cookies


async def test_410_is_gone(receiver: Receiver, webhook_client: httpx.AsyncClient) -> None:
    receiver.program(Reply(410, b"endpoint removed"))
    result = await _send(receiver, webhook_client)
    assert result.outcome is Outcome.GONE
    assert result.status_code == 410


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
async def test_other_statuses_are_retried_with_an_excerpt(
    receiver: Receiver, webhook_client: httpx.AsyncClient, status: int
) -> None:
    receiver.program(Reply(status, b'{"error": "database down"}'))
    result = await _send(receiver, webhook_client)
    assert result.outcome is Outcome.RETRY
    assert result.status_code == status and result.error is None
    assert result.response_excerpt == '{"error": "database down"}'


async def test_a_huge_response_is_cut_to_an_excerpt(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    receiver.program(Reply(500, "é".encode() * 4_000_000))  # 8 MB
    result = await _send(receiver, webhook_client)
    assert result.status_code == 500
    assert len(result.response_excerpt.encode()) <= EXCERPT_BYTES
    assert result.response_excerpt.startswith("éé")


async def test_a_slow_receiver_times_out(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    receiver.program(Reply.slow(3.0))
    started = time.monotonic()
    result = await _send(receiver, webhook_client, seconds=0.2)
    assert time.monotonic() - started < 1.5
    assert result.outcome is Outcome.RETRY
    assert (result.status_code, result.error) == (None, "timeout")
    assert result.is_timeout
    assert len(await receiver.wait_for_async(1)) == 1  # it did arrive; the answer was too late


async def test_retry_after_is_reported(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    receiver.program(Reply(429, b"slow down", {"retry-after": "120"}))
    result = await _send(receiver, webhook_client)
    assert (result.status_code, result.retry_after_seconds) == (429, 120.0)
    when = datetime.now(UTC) + timedelta(seconds=300)
    receiver.program(Reply(503, b"", {"retry-after": format_datetime(when, usegmt=True)}))
    result = await _send(receiver, webhook_client)
    assert result.retry_after_seconds is not None
    assert 295 <= result.retry_after_seconds <= 300


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(" 42 ") == 42.0
    assert parse_retry_after("Fri, 27 Nov 2026 10:01:00 GMT", now) == 60.0
    assert parse_retry_after("Fri, 27 Nov 2026 09:00:00 GMT", now) == 0.0  # in the past
    for bad in (None, "", "soon", "-5", "1.5", "²"):
        assert parse_retry_after(bad, now) is None


async def test_an_unsafe_target_is_never_contacted(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    result = await send(receiver.url(), BODY, _headers(receiver), client=webhook_client)
    assert result.outcome is Outcome.RETRY
    assert (result.status_code, result.error) == (None, "unsafe_target:loopback")
    await asyncio.sleep(0.1)
    assert receiver.requests == []


async def test_the_allow_list_comes_from_settings_by_default(
    receiver: Receiver, webhook_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSOURCE_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8")
    reset_settings()
    try:
        result = await send(receiver.url(), BODY, _headers(receiver), client=webhook_client)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert result.outcome is Outcome.SUCCESS


async def test_a_closed_port_is_a_connect_error(webhook_client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await send(
        f"http://127.0.0.1:{port}/", BODY, {}, allow_networks=LOOPBACK, client=webhook_client
    )
    assert (result.outcome, result.status_code, result.error) == (
        Outcome.RETRY,
        None,
        "connect_error",
    )


async def test_connections_are_reused_across_sends(
    receiver: Receiver, webhook_client: httpx.AsyncClient
) -> None:
    for _ in range(20):
        assert (await _send(receiver, webhook_client)).outcome is Outcome.SUCCESS
    assert len({r.client for r in receiver.requests}) == 1


async def test_without_a_client_one_is_made_for_the_attempt(receiver: Receiver) -> None:
    result = await send(receiver.url(), BODY, _headers(receiver), allow_networks=LOOPBACK)
    assert result.outcome is Outcome.SUCCESS


# -- HTTPS: SNI and certificate checks use the name while the socket goes to the address


async def test_https_verifies_the_certificate_against_the_name(
    tls_receiver: Receiver, tls_client: httpx.AsyncClient, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["hooks.brand.test"] = ["127.0.0.1"]
    url = tls_receiver.url(host="hooks.brand.test")
    result = await _send(tls_receiver, tls_client, url=url)
    assert result.outcome is Outcome.SUCCESS, result
    [request] = await tls_receiver.wait_for_async(1)
    assert request.verified
    assert request.headers["host"] == f"hooks.brand.test:{tls_receiver.port}"


async def test_https_refuses_a_certificate_for_another_name(
    tls_receiver: Receiver, tls_client: httpx.AsyncClient, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["impostor.test"] = ["127.0.0.1"]
    result = await _send(tls_receiver, tls_client, url=tls_receiver.url(host="impostor.test"))
    assert (result.status_code, result.error) == (None, "tls_error")
    assert tls_receiver.requests == []


async def test_a_tls_connection_is_not_reused_for_another_name_on_the_same_address(
    tls_receiver: Receiver, tls_client: httpx.AsyncClient, fake_dns: dict[str, list[str]]
) -> None:
    # Both names point at one address (think: a CDN). A pool keyed by address alone would send
    # the second request over the connection verified for the first name.
    fake_dns["hooks.brand.test"] = ["127.0.0.1"]
    fake_dns["impostor.test"] = ["127.0.0.1"]
    first = await _send(tls_receiver, tls_client, url=tls_receiver.url(host="hooks.brand.test"))
    second = await _send(tls_receiver, tls_client, url=tls_receiver.url(host="impostor.test"))
    assert first.outcome is Outcome.SUCCESS
    assert second.error == "tls_error"
    assert len(tls_receiver.requests) == 1
