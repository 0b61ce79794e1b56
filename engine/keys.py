"""API keys: generated once, shown once, stored as SHA-256 hashes, looked up by hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from engine.models.tenants import ApiKey, KeyKind

_PREFIX = {KeyKind.SECRET: "sk_", KeyKind.PUBLISHABLE: "pk_"}


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def kind_of(raw: str) -> KeyKind | None:
    for kind, prefix in _PREFIX.items():
        if raw.startswith(prefix):
            return kind
    return None


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    raw: str


async def issue_key(
    tenant_id: int, kind: KeyKind, *, label: str = "", allowed_origins: list[str] | None = None
) -> IssuedKey:
    # 32 random bytes: guessing is hopeless, so a fast hash (not a password KDF) is the right store.
    raw = _PREFIX[kind] + secrets.token_urlsafe(32)
    key = await ApiKey.create(
        tenant_id=tenant_id,
        kind=kind,
        prefix=raw[:12],
        key_hash=hash_key(raw),
        label=label,
        allowed_origins=allowed_origins or [],
    )
    return IssuedKey(key, raw)


async def find_key(raw: str) -> ApiKey | None:
    """Before the tenant is known: the one lookup that is cross-tenant by nature."""
    if kind_of(raw) is None or len(raw) > 200:
        return None
    key = await ApiKey.unscoped().get_or_none(key_hash=hash_key(raw), revoked_at=None)
    if key is None or key.kind != kind_of(raw):
        return None
    return key
