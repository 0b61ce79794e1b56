"""The receiver must be able to say no, or every ``verified`` assertion elsewhere is vacuous."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.webhooks.receiver import Receiver, Reply
from webhooks import signing

BODY = b'{"type": "webhook.test"}'


def _post(receiver: Receiver, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    return httpx.post(receiver.url(), content=body, headers=headers, trust_env=False)


def test_sync_access_and_a_script(receiver: Receiver) -> None:
    receiver.program(500, Reply(429, headers={"retry-after": "3"}), then=204)
    headers = signing.headers("evt_r", int(time.time()), BODY, receiver.secrets)
    statuses = [_post(receiver, headers).status_code for _ in range(4)]
    assert statuses == [500, 429, 204, 204]
    requests = receiver.wait_for(4, timeout=2)
    assert all(r.verified for r in requests)
    assert requests[0].json() == {"type": "webhook.test"}
    assert requests[0].received_at <= time.time()


def test_a_wrong_secret_or_body_is_not_verified(receiver: Receiver) -> None:
    now = int(time.time())
    _post(receiver, signing.headers("evt_x", now, BODY, [signing.generate_secret()]))
    _post(receiver, signing.headers("evt_y", now, BODY, receiver.secrets), body=b'{"x": 1}')
    _post(receiver, signing.headers("evt_z", now - 3600, BODY, receiver.secrets))  # too old
    _post(receiver, {"content-type": "application/json"})
    assert [r.verified for r in receiver.wait_for(4, timeout=2)] == [False] * 4


async def test_async_wait_times_out_clearly(receiver: Receiver) -> None:
    with pytest.raises(TimeoutError, match="expected 1 requests, got 0"):
        await receiver.wait_for_async(1, timeout=0.05)
