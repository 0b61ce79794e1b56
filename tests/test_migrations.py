"""Migrations build the schema on both backends (the database fixture migrates) and match the models."""

from __future__ import annotations

import inspect

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from runtime.composition import tortoise_config


async def test_models_have_no_changes_missing_a_migration(database: str) -> None:
    apps_config = tortoise_config()["apps"]
    changes = await MigrationAutodetector(Tortoise.apps, apps_config).changes()
    assert not changes, "models changed without a migration: run `make migrations` and commit"


def test_model_docstrings_are_safe_table_comments(database: str) -> None:
    # Tortoise turns class docstrings into table comments; SQLite's schema editor splits on ";"
    # and chokes on backticks, so a harmless docstring could break a migration.
    for app in Tortoise.apps.values():
        for model in app.values():
            doc = inspect.cleandoc(model.__doc__ or "")
            first = doc.split("\n")[0]
            assert ";" not in first and "`" not in first, model


async def test_the_wilson_data_migration_recomputes_stored_top_ranks(tenant: object) -> None:
    import importlib
    from types import SimpleNamespace

    from tortoise import connections

    from engine import votes
    from engine.models import Idea
    from engine.ranking import wilson_lower_bound
    from engine.votes import VoteValue
    from tests import factories

    migration = importlib.import_module("migrations.0005_wilson_top")
    author, fan = await factories.member(), await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(fan, idea.id, VoteValue.UP)
    await Idea.filter(id=idea.id).update(top_rank=1.0)  # as the old net-votes rank stored it
    await migration.recompute_top(None, SimpleNamespace(client=connections.get("default")))
    row = await Idea.get(id=idea.id)
    assert row.top_rank == round(wilson_lower_bound(1, 0), 9) != 1.0
