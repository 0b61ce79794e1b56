"""Secrets sealed at rest: identity secrets and webhook signing secrets are stored encrypted.

Both must be readable to be used (an HS256 member token is verified with the identity secret, a
webhook is signed with the endpoint's secret), so hashing is not an option; a database dump or a
replica must still not hand them out. Values are sealed with Fernet (AES-128-CBC + HMAC-SHA256,
from `cryptography`) under ``COSOURCE_SECRET_KEY`` and stored as ``sealed:v1:<token>``.

- Rotation without downtime: set the new key as ``COSOURCE_SECRET_KEY`` and the old one in
  ``COSOURCE_SECRET_KEY_PREVIOUS`` (comma-separated, newest first), restart, then run
  ``cosource secrets rotate``, which re-seals every value under the new key; drop the old key after.
- The embedded default (SQLite, no key set) generates a key once and keeps it next to the database
  file (``<db>.key``, mode 0600), with a warning: fine for a demo, not for production. On
  PostgreSQL a missing key is a start-up error.
- Values written before sealing existed (plain text) still read, and the migration that introduced
  sealing sealed them.

See docs/architecture.md ("Secrets at rest").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from tortoise import fields

from engine.settings import get_settings

log = logging.getLogger(__name__)

PREFIX = "sealed:v1:"


class SecretKeyMissing(RuntimeError):
    """No COSOURCE_SECRET_KEY where one is required (anything but the embedded SQLite default)."""


class SealedSecretUnreadable(RuntimeError):
    """A sealed value no configured key opens: the key was lost or the previous one dropped early."""


_UNREADABLE = (
    "a sealed secret cannot be opened with COSOURCE_SECRET_KEY or COSOURCE_SECRET_KEY_PREVIOUS "
    "(was the key changed without keeping the old one as previous?)"
)
_cache: dict[tuple[str | None, str | None, str], MultiFernet] = {}


def _key_file(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url.removeprefix("sqlite://")
    if not path or path == ":memory:":
        return None
    return Path(f"{path}.key")


def _embedded_key(database_url: str) -> bytes:
    path = _key_file(database_url)
    if path is None:
        if database_url.startswith("sqlite://"):
            return Fernet.generate_key()  # an in-memory database lives no longer than this key
        raise SecretKeyMissing(
            "COSOURCE_SECRET_KEY is required with PostgreSQL: it encrypts identity and webhook "
            "secrets at rest. Generate one with `cosource secrets generate-key`."
        )
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
    log.warning(
        "COSOURCE_SECRET_KEY is not set: generated one in %s to seal secrets at rest. Set "
        "COSOURCE_SECRET_KEY in production (and keep it outside the database's backups).",
        path,
    )
    return key


def keyring() -> MultiFernet:
    """The current key first, then the previous ones (they still open, never seal)."""
    settings = get_settings()
    cache_key = (settings.secret_key, settings.secret_key_previous, settings.database_url)
    found = _cache.get(cache_key)
    if found is not None:
        return found
    current = (
        settings.secret_key.encode()
        if settings.secret_key
        else _embedded_key(settings.database_url)
    )
    previous = [
        k.strip().encode() for k in (settings.secret_key_previous or "").split(",") if k.strip()
    ]
    try:
        ring = MultiFernet([Fernet(current), *(Fernet(k) for k in previous)])
    except ValueError as exc:
        raise SecretKeyMissing(
            "COSOURCE_SECRET_KEY (and COSOURCE_SECRET_KEY_PREVIOUS) must be Fernet keys: 32 "
            "url-safe base64-encoded bytes, as `cosource secrets generate-key` prints"
        ) from exc
    _cache.clear()
    _cache[cache_key] = ring
    return ring


def check_key(database_url: str) -> None:
    """Fail at start-up, not at the first member token, when a required key is missing or bad."""
    settings = get_settings()
    if settings.secret_key is None and not database_url.startswith("sqlite://"):
        _embedded_key(database_url)  # raises SecretKeyMissing with the how-to
    if settings.secret_key is not None:
        keyring()  # raises SecretKeyMissing for a malformed key


def generate_key() -> str:
    return Fernet.generate_key().decode()


def seal(plain: str) -> str:
    if plain.startswith(PREFIX):
        return plain  # already sealed (a value read raw and written back)
    return PREFIX + keyring().encrypt(plain.encode()).decode()


def unseal(stored: str) -> str:
    """The plain secret; values stored before sealing existed pass through unchanged."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return keyring().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken as exc:
        raise SealedSecretUnreadable(_UNREADABLE) from exc


def reseal(stored: str) -> str:
    """The same secret sealed under the current key (plain text gets sealed too)."""
    if not stored.startswith(PREFIX):
        return seal(stored)
    try:
        return PREFIX + keyring().rotate(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken as exc:
        raise SealedSecretUnreadable(_UNREADABLE) from exc


class SealedField(fields.TextField):
    """A text column holding a sealed secret; the model attribute is the plain value."""

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None:
            return None
        return seal(str(value))

    def to_python_value(self, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        return unseal(value)


def sealed_columns() -> list[tuple[str, str]]:
    """Every (table, column) of a SealedField among the registered models."""
    from tortoise import Tortoise

    found = []
    for app in Tortoise.apps.values():
        for model in app.values():
            for name, field in model._meta.fields_map.items():
                if isinstance(field, SealedField):
                    found.append((model._meta.db_table, field.source_field or name))
    return sorted(found)


async def rotate_all(progress: Any = None) -> dict[str, int]:
    """Re-seal every sealed value under the current key (plain values get sealed). Returns how
    many values each column had. Cross-tenant on purpose (the key is the installation's), in
    batches of hand-written SQL so no model needs loading."""
    from tortoise import connections

    columns = sealed_columns()

    client = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    done: dict[str, int] = {}
    for table, column in columns:
        _, rows = await client.execute_query(
            f"SELECT id, {column} AS value FROM {table} WHERE {column} IS NOT NULL ORDER BY id"
        )
        values = [[reseal(r["value"]), r["id"]] for r in rows]
        place = ("$1", "$2") if postgres else ("?", "?")
        for start in range(0, len(values), 500):
            await client.execute_many(
                f"UPDATE {table} SET {column} = {place[0]} WHERE id = {place[1]}",
                values[start : start + 500],
            )
            if progress is not None:
                progress(len(values[start : start + 500]))
        done[f"{table}.{column}"] = len(values)
    return done
