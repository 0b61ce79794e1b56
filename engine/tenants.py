"""Creating a tenant (a brand) with its first keys and identity secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode, NotFound
from engine.keys import issue_key
from engine.models.tenants import KeyKind, Tenant
from engine.text import NAME_MAX, check_slug, check_text, clean, require_texts, slugify


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    secret_key: str
    publishable_key: str
    identity_secret: str


async def create_tenant(
    name: str, *, slug: str | None = None, allowed_origins: list[str] | None = None
) -> NewTenant:
    slug = slug or slugify(name)
    require_texts(check_text(name, field="name", max_len=NAME_MAX), check_slug(slug))
    async with in_transaction():
        if await Tenant.filter(slug=slug).exists():
            raise DomainError(
                ErrorCode.ALREADY_EXISTS, f"a tenant with slug {slug!r} exists", "slug"
            )
        identity_secret = secrets.token_urlsafe(32)
        tenant = await Tenant.create(name=clean(name), slug=slug, identity_secret=identity_secret)
        sk = await issue_key(tenant.id, KeyKind.SECRET, label="default")
        pk = await issue_key(
            tenant.id, KeyKind.PUBLISHABLE, label="default", allowed_origins=allowed_origins
        )
    return NewTenant(tenant, sk.raw, pk.raw, identity_secret)


async def rotate_identity_secret(tenant_id: int, grace: timedelta = timedelta(hours=24)) -> Tenant:
    """A new identity secret; tokens signed with the old one keep verifying for ``grace`` (up to 7
    days), so the brand's backend can switch without logging anyone out. Returns the tenant with
    the new secret in ``identity_secret`` (shown to the brand once)."""
    if not timedelta(0) <= grace <= timedelta(days=7):
        raise DomainError(ErrorCode.OUT_OF_RANGE, "grace must be 0 s to 7 days", "graceSeconds")
    async with in_transaction():
        tenant = await Tenant.filter(id=tenant_id).select_for_update().first()
        if tenant is None:
            raise NotFound("tenant")
        tenant.previous_identity_secret = tenant.identity_secret
        tenant.previous_identity_secret_expires_at = utcnow() + grace
        tenant.identity_secret = secrets.token_urlsafe(32)
        await tenant.save(
            update_fields=[
                "identity_secret",
                "previous_identity_secret",
                "previous_identity_secret_expires_at",
            ]
        )
    return tenant
