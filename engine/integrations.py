"""Inbound integration secrets and signatures: Shopify's HMAC and Standard Webhooks.

A brand configures each kind with its secret key (``configureIntegration``). Shopify signs with a
secret Shopify gives the brand (the app's client secret), which the brand hands us; the generic
inbound endpoint uses a ``whsec_`` secret we generate. Either way the secret is shown once, and a
rotation keeps the previous one verifying for :data:`ROTATION_OVERLAP` so senders can switch
without a gap. Secrets must be readable (an HMAC key must be): they are sealed at rest like
identity and endpoint secrets (engine.sealed, ``cosource secrets rotate`` re-seals them too) and
read only through :func:`verifying_secrets`. Signatures are compared in constant time over the raw
request bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.models.integrations import Integration, IntegrationKind
from engine.models.tenants import Tenant

ROTATION_OVERLAP = timedelta(hours=24)
# Standard Webhooks: a message older or newer than this is refused (replay window).
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
WHSEC_PREFIX = "whsec_"
_SHOPIFY_SECRET_MIN, _SHOPIFY_SECRET_MAX = 16, 200


@dataclass(frozen=True)
class ConfiguredIntegration:
    """The only place an integration secret leaves the server: right after it was set."""

    integration: Integration
    secret: str


def _generate_whsec() -> str:
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _check_secret(kind: IntegrationKind, secret: str | None) -> str:
    if kind == IntegrationKind.INBOUND:
        if secret is not None:
            raise DomainError(
                ErrorCode.INVALID,
                "the inbound secret is generated for you; leave secret empty",
                "secret",
            )
        return _generate_whsec()
    if secret is None or not secret.strip():
        raise DomainError(
            ErrorCode.REQUIRED,
            "paste the secret Shopify signs webhooks with (the app's client secret)",
            "secret",
        )
    secret = secret.strip()
    if not _SHOPIFY_SECRET_MIN <= len(secret) <= _SHOPIFY_SECRET_MAX:
        raise DomainError(
            ErrorCode.OUT_OF_RANGE,
            f"a Shopify secret is {_SHOPIFY_SECRET_MIN}-{_SHOPIFY_SECRET_MAX} characters",
            "secret",
        )
    return secret


async def configure_integration(
    kind: IntegrationKind, secret: str | None = None, *, revoke_previous: bool = False
) -> ConfiguredIntegration:
    """Set (or rotate) the tenant's secret for ``kind``; the old one verifies for a day more."""
    new_secret = _check_secret(kind, secret)
    now = utcnow()
    async with in_transaction():
        row = await Integration.filter(kind=kind).select_for_update().first()
        if row is None:
            row = await Integration.create(kind=kind, secret=new_secret)
            return ConfiguredIntegration(row, new_secret)
        if revoke_previous:
            row.previous_secret, row.previous_secret_expires_at = None, None
        else:
            row.previous_secret, row.previous_secret_expires_at = row.secret, now + ROTATION_OVERLAP
        row.secret = new_secret
        row.rotated_at = now
        await row.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "rotated_at"]
        )
    return ConfiguredIntegration(row, new_secret)


async def list_integrations() -> list[Integration]:
    return await Integration.all().order_by("kind")


async def verifying_secrets(kind: IntegrationKind, now: datetime | None = None) -> list[str]:
    """Every secret that verifies ``kind`` now in the tenant in scope (none: not configured).

    The one reader of stored integration secrets (unsealed by the column, engine.sealed).
    """
    row = await Integration.get_or_none(kind=kind)
    if row is None:
        return []
    now = now or utcnow()
    found = [row.secret]
    expires = row.previous_secret_expires_at
    if row.previous_secret and expires is not None and expires > now:
        found.append(row.previous_secret)
    return found


async def tenant_for_slug(slug: str) -> Tenant | None:
    """Inbound webhooks name their tenant in the URL: the one lookup before a tenant is in scope."""
    if not slug or len(slug) > 64:
        return None
    return await Tenant.get_or_none(slug=slug)


def shopify_hmac(secret: str, body: bytes) -> str:
    """What Shopify sends in X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_signature_valid(secrets_: list[str], body: bytes, header: str | None) -> bool:
    if not header or not secrets_:
        return False
    given = header.strip().encode()
    # Check every secret (no early exit), each in constant time.
    results = [hmac.compare_digest(shopify_hmac(s, body).encode(), given) for s in secrets_]
    return any(results)


def _whsec_key(secret: str) -> bytes:
    raw = secret.removeprefix(WHSEC_PREFIX)
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` as Standard Webhooks defines it."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_whsec_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_signature_valid(
    secrets_: list[str],
    msg_id: str | None,
    timestamp: str | None,
    body: bytes,
    header: str | None,
    now: datetime | None = None,
) -> bool:
    """The webhook-signature header may list several ``v1,...`` signatures (a sender's rotation)."""
    if not (secrets_ and msg_id and timestamp and header) or len(msg_id) > 200:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    now = now or utcnow()
    if abs(now.timestamp() - sent_at) > TIMESTAMP_TOLERANCE.total_seconds():
        return False
    given = [part.encode() for part in header.split() if part.startswith("v1,")]
    results = [
        hmac.compare_digest(standard_signature(s, msg_id, timestamp, body).encode(), g)
        for s in secrets_
        for g in given
    ]
    return any(results)
