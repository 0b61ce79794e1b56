from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks import signing

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _verify(secret: str, body: bytes, headers: dict[str, str]) -> None:
    Webhook(secret).verify(body, headers, json_parse=False)


def test_known_answer_vector() -> None:
    signature = signing.sign([VECTOR_SECRET], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert signature == VECTOR_SIGNATURE


def test_vector_matches_the_library_signer() -> None:
    when = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC)
    expected = Webhook(VECTOR_SECRET).sign(VECTOR_ID, when, VECTOR_BODY.decode())
    assert signing.sign([VECTOR_SECRET], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == expected


def test_library_verifies_our_headers() -> None:
    secret = signing.generate_secret()
    body = b'{"type": "webhook.test", "data": {"caf\xc3\xa9": 1}}'
    headers = signing.headers("evt_1", int(time.time()), body, [secret])
    _verify(secret, body, headers)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Cosource-Webhooks/1"
    assert headers["webhook-id"] == "evt_1"


def test_library_rejects_a_tampered_body_or_wrong_secret() -> None:
    secret = signing.generate_secret()
    headers = signing.headers("evt_1", int(time.time()), b'{"a": 1}', [secret])
    with pytest.raises(WebhookVerificationError):
        _verify(secret, b'{"a": 2}', headers)
    with pytest.raises(WebhookVerificationError):
        _verify(signing.generate_secret(), b'{"a": 1}', headers)


def test_during_rotation_either_secret_verifies() -> None:
    old, new = signing.generate_secret(), signing.generate_secret()
    body = b'{"type": "idea.created"}'
    headers = signing.headers("evt_2", int(time.time()), body, [old, new])
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    _verify(old, body, headers)
    _verify(new, body, headers)
    with pytest.raises(WebhookVerificationError):
        _verify(signing.generate_secret(), body, headers)


def test_generated_secrets_are_fresh_and_well_formed() -> None:
    first, second = signing.generate_secret(), signing.generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert 24 <= len(base64.b64decode(first.removeprefix("whsec_"))) <= 32


def test_unpadded_secret_is_accepted_like_the_library_does() -> None:
    key = base64.b64encode(b"k" * 32).decode().rstrip("=")
    body = b"{}"
    headers = signing.headers("evt_3", int(time.time()), body, ["whsec_" + key])
    _verify("whsec_" + key, body, headers)


@pytest.mark.parametrize("secrets", [[], ["whsec_"], ["whsec_not base64!"]])
def test_bad_secrets_are_refused(secrets: list[str]) -> None:
    with pytest.raises(ValueError):
        signing.sign(secrets, "evt", 1, b"{}")
