"""Index kinds Tortoise does not spell: a partial index whose predicate is plain SQL."""

from __future__ import annotations

from typing import Any

from pypika_tortoise.terms import Term
from tortoise.expressions import Expression
from tortoise.indexes import Index


class WhereIndex(Index):
    """An index of only the rows ``where`` holds for (``processed_at IS NULL``), on both backends.

    Tortoise's PartialIndex writes ``column = value`` conditions only, which cannot say IS NULL.
    ``where`` is written into the migration as it is given, so it must be SQL that SQLite and
    PostgreSQL read alike, and the queries it serves must imply it for either planner to use it.
    """

    def __init__(
        self,
        *expressions: Term | Expression,
        fields: tuple[str, ...] | list[str] | None = None,
        name: str | None = None,
        where: str,
    ) -> None:
        super().__init__(*expressions, fields=fields, name=name)
        self.where = where
        self.extra = f" WHERE {where}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        path, args, kwargs = super().deconstruct()
        kwargs["where"] = self.where
        return path, args, kwargs
