"""Tenant scoping lives in the data layer: no scope, no query; another tenant's rows do not exist."""

from __future__ import annotations

import pytest
from tortoise import Tortoise

from engine.errors import TenantScopeError
from engine.models import Idea, Member
from engine.tenancy import TenantManager, TenantModel, _current_tenant, tenant_scope
from engine.tenants import create_tenant
from tests import factories


def test_every_tenant_model_uses_the_scoped_manager(database: str) -> None:
    models = [m for app in Tortoise.apps.values() for m in app.values()]
    tenant_models = [m for m in models if issubclass(m, TenantModel)]
    assert len(tenant_models) >= 12
    for model in tenant_models:
        assert isinstance(model._meta.manager, TenantManager), model
        assert model._meta.manager._model is model


async def test_query_without_tenant_in_scope_is_refused(database: str) -> None:
    token = _current_tenant.set(None)
    try:
        with pytest.raises(TenantScopeError):
            await Member.all().count()
        with pytest.raises(TenantScopeError):
            await Idea.filter(id=1).update(title="x")
    finally:
        _current_tenant.reset(token)


async def test_other_tenants_rows_are_invisible_and_unwritable(tenant) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    token = _current_tenant.set(None)
    try:
        other = await create_tenant("Other brand")
        with tenant_scope(other.tenant.id):
            assert await Idea.get_or_none(id=idea.id) is None
            assert await Member.filter(id=author.id).count() == 0
            assert await Idea.filter(id=idea.id).update(title="hijacked") == 0
            author.display_name = "hijacked"
            with pytest.raises(TenantScopeError):
                await author.save()
    finally:
        _current_tenant.reset(token)
    assert (await Idea.get(id=idea.id)).title == idea.title
    assert (await Member.get(id=author.id)).display_name != "hijacked"


def test_nested_scope_of_another_tenant_is_refused() -> None:
    with tenant_scope(1), pytest.raises(TenantScopeError), tenant_scope(2):
        pass
