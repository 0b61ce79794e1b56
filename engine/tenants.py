"""Creating a tenant (a brand) with its first keys and identity secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from engine.errors import DomainError, ErrorCode
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
