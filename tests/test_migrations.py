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
