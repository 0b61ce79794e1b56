"""Standard Webhooks v1 signatures: what receivers check with the `standardwebhooks` library.

The HMAC is written out here rather than borrowed from the library so that signing needs no
third-party code at run time and several secrets (a rotation) sign one message in one pass.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_bytes

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
USER_AGENT = "Cosource-Webhooks/1"
# HMAC-SHA256 keys shorter than the digest are discouraged (RFC 2104); the spec allows 24-64.
_SECRET_BYTES = 32


def generate_secret() -> str:
    """A fresh endpoint secret, ``whsec_`` + base64 of 32 random bytes (shown to the brand once)."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(_SECRET_BYTES)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        # Tolerate unpadded base64 the way the receivers' library does.
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not valid base64") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<base64 HMAC-SHA256>`` per secret, space-separated.

    During a rotation both the old and the new secret sign, so receivers holding either verify.
    """
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        f"{SIGNATURE_VERSION},"
        + base64.b64encode(hmac.new(_secret_key(s), to_sign, hashlib.sha256).digest()).decode()
        for s in secrets
    )


def headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    """Every header a delivery carries; ``msg_id`` is the event id, the same on every retry."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
