"""Integration secrets: sealed at rest, rotated with a day's overlap, read in one place."""

from __future__ import annotations

from datetime import timedelta

from tortoise import connections

from engine.clock import utcnow
from engine.integrations import ROTATION_OVERLAP, configure_integration, verifying_secrets
from engine.models import IntegrationKind
from engine.sealed import PREFIX, sealed_columns


async def test_secrets_are_sealed_at_rest_and_rotate_with_overlap(tenant) -> None:
    first = await configure_integration(IntegrationKind.INBOUND)
    _, rows = await connections.get("default").execute_query(
        f"SELECT secret FROM integration WHERE id = {int(first.integration.id)}"
    )
    stored = rows[0]["secret"]
    assert stored.startswith(PREFIX) and first.secret not in stored
    assert ("integration", "secret") in sealed_columns()  # `cosource secrets rotate` covers it
    assert ("integration", "previous_secret") in sealed_columns()

    second = await configure_integration(IntegrationKind.INBOUND)
    assert await verifying_secrets(IntegrationKind.INBOUND) == [second.secret, first.secret]
    later = utcnow() + ROTATION_OVERLAP + timedelta(seconds=1)
    assert await verifying_secrets(IntegrationKind.INBOUND, later) == [second.secret]
    third = await configure_integration(IntegrationKind.INBOUND, revoke_previous=True)
    assert await verifying_secrets(IntegrationKind.INBOUND) == [third.secret]
    assert await verifying_secrets(IntegrationKind.SHOPIFY) == []
