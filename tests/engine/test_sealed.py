"""Secrets at rest: sealed in the database, plain in the model, rotatable without downtime."""

from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from tortoise import connections

from engine import sealed
from engine.member_tokens import verify_member_token
from engine.models import Tenant
from engine.settings import reset_settings
from engine.tenants import NewTenant
from tests.api.conftest import member_token
from webhooks.endpoints import EndpointInput, create_endpoint


async def _raw(table: str, column: str, row_id: int) -> str:
    client = connections.get("default")
    place = "$1" if client.capabilities.dialect == "postgres" else "?"
    _, rows = await client.execute_query(
        f"SELECT {column} AS v FROM {table} WHERE id = {place}", [row_id]
    )
    return str(rows[0]["v"])


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch):
    """Switch COSOURCE_SECRET_KEY(_PREVIOUS) within a test, restoring the suite's key after."""

    def use(current: str, previous: str | None = None) -> None:
        monkeypatch.setenv("COSOURCE_SECRET_KEY", current)
        if previous is None:
            monkeypatch.delenv("COSOURCE_SECRET_KEY_PREVIOUS", raising=False)
        else:
            monkeypatch.setenv("COSOURCE_SECRET_KEY_PREVIOUS", previous)
        reset_settings()

    yield use
    monkeypatch.undo()
    reset_settings()


async def test_a_database_dump_holds_no_secret(tenant: NewTenant) -> None:
    raw_identity = await _raw("tenant", "identity_secret", tenant.tenant.id)
    assert raw_identity.startswith(sealed.PREFIX)
    assert tenant.identity_secret not in raw_identity
    created = await create_endpoint(EndpointInput(url="https://8.8.8.8/hook"))
    raw_secret = await _raw("webhook_endpoint", "secret", created.endpoint.id)
    assert raw_secret.startswith(sealed.PREFIX) and created.secret not in raw_secret
    # Read through the model, the secrets are plain and work.
    assert (await Tenant.get(id=tenant.tenant.id)).identity_secret == tenant.identity_secret
    token = member_token(tenant, "cus_1")
    assert verify_member_token(await Tenant.get(id=tenant.tenant.id), token).external_id == "cus_1"


async def test_rotation_keeps_every_secret_readable(tenant: NewTenant, keys) -> None:
    old = os.environ["COSOURCE_SECRET_KEY"]
    before = await _raw("tenant", "identity_secret", tenant.tenant.id)
    new = sealed.generate_key()
    keys(new, previous=old)  # step 1: new key, old one kept for reading
    assert (await Tenant.get(id=tenant.tenant.id)).identity_secret == tenant.identity_secret
    done = await sealed.rotate_all()  # step 2: `cosource secrets rotate`
    assert done["tenant.identity_secret"] >= 1
    after = await _raw("tenant", "identity_secret", tenant.tenant.id)
    assert after != before and after.startswith(sealed.PREFIX)
    keys(new)  # step 3: the old key is dropped
    assert (await Tenant.get(id=tenant.tenant.id)).identity_secret == tenant.identity_secret
    keys(old)  # the old key alone no longer opens what was re-sealed
    with pytest.raises(sealed.SealedSecretUnreadable):
        sealed.unseal(after)
    keys(old, previous=new)
    await sealed.rotate_all()  # put the suite's key back on every row


async def test_the_migration_seals_plain_secrets(tenant: NewTenant) -> None:
    client = connections.get("default")
    place = "$1" if client.capabilities.dialect == "postgres" else "?"
    await client.execute_query(
        f"UPDATE tenant SET identity_secret = 'plain-old-secret' WHERE id = {place}",
        [tenant.tenant.id],
    )
    assert (await Tenant.get(id=tenant.tenant.id)).identity_secret == "plain-old-secret"
    migration = importlib.import_module("migrations.0007_sealed_secrets")
    await migration.seal_existing(None, SimpleNamespace(client=client))
    raw = await _raw("tenant", "identity_secret", tenant.tenant.id)
    assert raw.startswith(sealed.PREFIX) and "plain-old-secret" not in raw
    assert sealed.unseal(raw) == "plain-old-secret"


def test_the_embedded_default_keeps_its_key_next_to_the_database(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'cosource.db'}"
    first = sealed._embedded_key(url)
    path = tmp_path / "cosource.db.key"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sealed._embedded_key(url) == first
    with pytest.raises(sealed.SecretKeyMissing, match="COSOURCE_SECRET_KEY is required"):
        sealed._embedded_key("postgres://db.example/cosource")


def test_a_malformed_key_is_a_clear_error(keys) -> None:
    keys("not-a-fernet-key")
    with pytest.raises(sealed.SecretKeyMissing, match="must be Fernet keys"):
        sealed.seal("x")


def test_postgres_without_a_key_refuses_to_start(keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSOURCE_SECRET_KEY")
    reset_settings()
    with pytest.raises(sealed.SecretKeyMissing, match="cosource secrets generate-key"):
        sealed.check_key("postgres://postgres@127.0.0.1:5432/cosource")
    sealed.check_key("sqlite://:memory:")  # the embedded default needs none
