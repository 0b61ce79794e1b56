"""API keys: generated once, shown once, stored as SHA-256 hashes, looked up by hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode, NotFound
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
    # A rotated key keeps working until its grace period ends (revoked_at in the future).
    key = (
        await ApiKey.unscoped()
        .filter(Q(revoked_at=None) | Q(revoked_at__gt=utcnow()), key_hash=hash_key(raw))
        .first()
    )
    if key is None or key.kind != kind_of(raw):
        return None
    return key


MAX_GRACE = timedelta(days=7)


def _grace(grace: timedelta) -> timedelta:
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise DomainError(ErrorCode.OUT_OF_RANGE, "grace must be 0 s to 7 days", "graceSeconds")
    return grace


async def list_keys() -> list[ApiKey]:
    """The tenant's keys, newest first (revoked ones too: the brand sees its history)."""
    return await ApiKey.all().order_by("-id")


async def rotate_key(key_id: int, grace: timedelta = timedelta(0)) -> IssuedKey:
    """A new key of the same kind, label and origins; the old one stops working after ``grace``
    (so servers can be redeployed with the new key first). Shown once, like any new key."""
    grace = _grace(grace)
    async with in_transaction():
        old = await ApiKey.filter(id=key_id).select_for_update().first()
        if old is None or not _active(old):
            raise NotFound("key", "id")
        new = await issue_key(
            old.tenant_id, old.kind, label=old.label, allowed_origins=list(old.allowed_origins)
        )
        old.revoked_at = utcnow() + grace
        await old.save(update_fields=["revoked_at"])
    return new


async def revoke_key(key_id: int) -> ApiKey:
    """Stop a key now. The last working secret key cannot go (the brand would lock itself out):
    rotate it instead."""
    async with in_transaction():
        key = await ApiKey.filter(id=key_id).select_for_update().first()
        if key is None:
            raise NotFound("key", "id")
        if not _active(key):
            return key
        if key.kind == KeyKind.SECRET:
            others = [
                k for k in await ApiKey.filter(kind=KeyKind.SECRET).exclude(id=key.id) if _active(k)
            ]
            if not others:
                raise DomainError(
                    ErrorCode.INVALID,
                    "the last working secret key cannot be revoked; rotate it instead",
                    "id",
                )
        key.revoked_at = utcnow()
        await key.save(update_fields=["revoked_at"])
    return key


def _active(key: ApiKey) -> bool:
    return key.revoked_at is None or key.revoked_at > utcnow()


async def publishable_origin_lists() -> list[list[str]]:
    """The allowed origins of every active publishable key, across tenants: a CORS preflight
    carries no key, so whether any key allows an origin is all it can be told."""
    rows = (
        await ApiKey.unscoped()
        .filter(Q(revoked_at=None) | Q(revoked_at__gt=utcnow()), kind=KeyKind.PUBLISHABLE)
        .values_list("allowed_origins", flat=True)
    )
    return [list(row) if isinstance(row, list) else [] for row in rows]
