"""Hand-written SQL for both backends: ``:name`` parameters and the few expressions that differ.

Reads that aggregate a whole campaign (insights, alerts) are single statements; the ORM's query
builder cannot express window functions or date bucketing portably. Raw SQL bypasses the tenant
manager, so every statement here names ``tenant_id`` itself (see docs/architecture.md, "Tenancy").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tortoise import connections

_NAME = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


class Dialect:
    """Expressions whose spelling differs between SQLite and PostgreSQL."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.postgres = name == "postgres"

    def _typed(self, expression: str) -> str:
        # A bare parameter next to timestamp arithmetic is ambiguous to PostgreSQL's planner.
        if self.postgres and expression.startswith(":"):
            return f"CAST({expression} AS TIMESTAMPTZ)"
        return expression

    def ts(self, expression: str) -> str:
        """A timestamp comparable across rows and parameters (SQLite keeps them as text)."""
        return self._typed(expression) if self.postgres else f"julianday({expression})"

    def day(self, column: str) -> str:
        """The UTC date of a timestamp, as text YYYY-MM-DD."""
        if self.postgres:
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return f"date({column})"

    def hours_between(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0)"
        return f"((julianday({later}) - julianday({earlier})) * 24.0)"

    def weeks_since(self, column: str, start: str) -> str:
        """Whole weeks from ``start`` (a parameter) to the column's time, 0-based."""
        if self.postgres:
            start = self._typed(start)
            return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({column} - {start})) / 604800) AS INTEGER)"
        return f"CAST((julianday({column}) - julianday({start})) / 7 AS INTEGER)"


class Params:
    """The positional parameters of one statement written by hand, spelled for its dialect.

    ``p(value)`` returns the placeholder (``$n`` on PostgreSQL, ``?`` on SQLite) and keeps the
    value; SQLite numbers placeholders by position in the text, so build the text left to right.
    """

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(_param(value, self.postgres))
        return f"${len(self.values)}" if self.postgres else "?"


def _param(value: Any, postgres: bool) -> Any:
    if isinstance(value, datetime) and not postgres:
        return value.isoformat(" ")
    return value


async def fetch(template: str, **params: Any) -> list[dict[str, Any]]:
    """Run one read on the default connection; ``template`` may use ``{d.method(...)}`` through
    :func:`render` first. Rows come back as dicts."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    order: list[str] = []

    def place(match: re.Match[str]) -> str:
        name = match.group(1)
        if postgres:
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"
        order.append(name)
        return "?"

    sql = _NAME.sub(place, " ".join(template.split()))
    _, rows = await connection.execute_query(sql, [_param(params[n], postgres) for n in order])
    return [dict(row) for row in rows]


def dialect() -> Dialect:
    return Dialect(connections.get("default").capabilities.dialect)
