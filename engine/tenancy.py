"""Tenant scoping in the data layer.

Every tenant-owned model uses :class:`TenantManager`, whose querysets are filtered by the tenant in
scope (a ContextVar set by the API's auth or by a job for the event it handles). A query with no tenant
in scope raises instead of reading every tenant, so a resolver cannot forget the filter: cross-tenant
reads and writes are impossible by construction. Cross-tenant work (sweepers, the CLI) says so
explicitly with :meth:`TenantModel.unscoped`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Self

from tortoise import fields
from tortoise.manager import Manager
from tortoise.models import Model
from tortoise.queryset import QuerySet

from engine.errors import TenantScopeError

_current_tenant: ContextVar[int | None] = ContextVar("cosource_tenant", default=None)


def current_tenant_id() -> int:
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        raise TenantScopeError("no tenant in scope; wrap the call in tenant_scope(tenant_id)")
    return tenant_id


def current_tenant_id_or_none() -> int | None:
    return _current_tenant.get()


@contextmanager
def tenant_scope(tenant_id: int) -> Iterator[int]:
    """Run the block with ``tenant_id`` in scope (nesting a different tenant is refused)."""
    outer = _current_tenant.get()
    if outer is not None and outer != tenant_id:
        raise TenantScopeError(f"tenant {tenant_id} requested inside tenant {outer}'s scope")
    token = _current_tenant.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _current_tenant.reset(token)


@contextmanager
def request_tenant(tenant_id: int) -> Iterator[int]:
    """A request that names its own tenant (inbound webhooks): that tenant for the block, whatever
    the surrounding context held, and the previous value back afterwards."""
    token = _current_tenant.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _current_tenant.reset(token)


def enter_tenant(tenant_id: int) -> None:
    """Set the tenant for the rest of the current task (used once per request by the API)."""
    _current_tenant.set(tenant_id)


class TenantManager(Manager):
    def get_queryset(self) -> QuerySet[Any]:
        return QuerySet(self._model).filter(tenant_id=current_tenant_id())


class TenantModel(Model):
    """Base of every tenant-owned table: a tenant_id column and scoped queries."""

    tenant_id = fields.BigIntField()

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Installed here, not in Meta: a model's own Meta replaces the base's, and Tortoise
        # binds each manager instance to one model.
        super().__init_subclass__(**kwargs)
        if not cls._meta.abstract:
            cls._meta.manager = TenantManager(cls)

    @classmethod
    def unscoped(cls) -> QuerySet[Self]:
        """All tenants' rows: only for sweepers and operator commands, never for request handling."""
        return QuerySet(cls)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        scoped = _current_tenant.get()
        if self.tenant_id is None:
            self.tenant_id = current_tenant_id()
        elif scoped is not None and scoped != self.tenant_id:
            raise TenantScopeError(
                f"row of tenant {self.tenant_id} written in tenant {scoped}'s scope"
            )
        await super().save(*args, **kwargs)
