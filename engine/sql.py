"""Hand-written SQL for both backends: ``:name`` parameters and the few expressions that differ.

Reads that aggregate a whole campaign (insights, alerts) are single statements; the ORM's query
builder cannot express window functions or date bucketing portably. Raw SQL bypasses the tenant
manager, so every statement here names ``tenant_id`` itself (see docs/architecture.md, "Tenancy").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from tortoise import connections
from tortoise.models import Model

# ``:name`` with an optional PostgreSQL cast (``:ids::bigint[]``); ``::`` alone is a cast.
_NAME = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)((?:::[a-z ]+(?:\[\])?)?)")


class Statement:
    """SQL with ``:name`` parameters, rendered once per dialect: ``$n`` on PostgreSQL (one per
    name, casts kept), ``?`` per occurrence on SQLite (casts dropped: they are PostgreSQL's).

    A parameter cast to an array (``:ids::bigint[]``) is a list: one array on PostgreSQL, one
    JSON text on SQLite (for its ``json_each``); :meth:`Dialect.probe` and :meth:`Dialect.keys`
    write the statements that read by such a list (docs/architecture.md, "Reading by a list of
    keys").

    Hot statements (``webhooks/leases.py``) are module constants, so rendering happens once per
    process; ``fetch`` renders its template on each call.
    """

    def __init__(self, template: str | Callable[[Dialect], str]) -> None:
        """``template`` is the text, or a function of the dialect that writes it (for the
        expressions of :class:`Dialect`), called once per dialect."""
        self._build = template if callable(template) else None
        self.template = "" if callable(template) else " ".join(template.split())
        self._rendered: dict[str, tuple[str, list[str]]] = {}
        self._lists: set[str] = set()

    def render(self, dialect: str) -> tuple[str, list[str]]:
        """The SQL text for ``dialect`` and the parameter names in placeholder order."""
        if dialect not in self._rendered:
            order: list[str] = []
            text = self.template
            if self._build is not None:
                text = " ".join(self._build(Dialect(dialect)).split())
            # A parameter cast to an array is a list: an array for asyncpg, JSON for SQLite.
            self._lists.update(m.group(1) for m in _NAME.finditer(text) if m.group(2)[-2:] == "[]")
            template = text

            def place(match: re.Match[str]) -> str:
                name, cast = match.group(1), match.group(2)
                if dialect == "postgres":
                    if name not in order:
                        order.append(name)
                    return f"${order.index(name) + 1}{cast}"
                order.append(name)
                return "?"

            self._rendered[dialect] = (_NAME.sub(place, template), order)
        return self._rendered[dialect]

    def values(self, dialect: str, params: Mapping[str, Any]) -> list[Any]:
        """The positional values for ``dialect``, lists spelled for it."""
        _, order = self.render(dialect)
        postgres = dialect == "postgres"
        return [
            _listed(params[name], postgres)
            if name in self._lists
            else spell(params[name], postgres)
            for name in order
        ]

    async def execute(self, client: Any, **params: Any) -> tuple[int, list[Any]]:
        """Run on ``client`` (a connection or a transaction); the row count and the rows."""
        dialect = client.capabilities.dialect
        sql, _ = self.render(dialect)
        count, rows = await client.execute_query(sql, self.values(dialect, params))
        return count, list(rows)


def _listed(values: Any, postgres: bool) -> Any:
    """A list parameter: an array for asyncpg, JSON text for SQLite's ``json_each``."""
    items = list(values)
    return items if postgres else orjson.dumps(items).decode()


def owner(column: str = "tenant_id") -> str:
    """The tenant column of a lookup by primary key, as a filter no index can serve
    (``tenant_id + 0``, on both backends): the key finds the row, the tenant is then checked
    on it. Written as a bare column, the planner may read a tenant's rows by an index that
    starts with the tenant and test each against the key, which it believes cheaper when its
    statistics say the tenant has few rows: for a brand that grew since the last ANALYZE, a
    batch's probe of 200 votes read 730 000 buffers instead of 800 (docs/architecture.md,
    "Reading by a list of keys")."""
    return f"{column} + 0"


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

    # The tenant column of a lookup by primary key (see :func:`owner`), inside templates.
    owner = staticmethod(owner)

    def probe(self, keys: str, select: str, column: str, lock: str = "") -> str:
        """The rows of ``select`` (one table's ``SELECT ... WHERE ...``) whose ``column`` is one
        of the list parameter ``keys`` (``":ids::bigint[]"``), locked by ``lock`` (``"FOR
        UPDATE"``, PostgreSQL only).

        PostgreSQL: each key probes the table (``unnest`` joined LATERAL to the select, fenced
        with ``OFFSET 0`` so the planner cannot flatten it into a hash join), so the plan reads
        the keys' rows by index whatever the table's statistics say; without statistics the
        planner takes the tenant's rows for a handful and would rather hash all of them. Rows
        come in the keys' order, and so do the locks. SQLite: ``column IN`` the list's rows."""
        if self.postgres:
            return (
                f"SELECT r.* FROM unnest({keys}) AS k(key) CROSS JOIN LATERAL"
                f" ({select} AND {column} = k.key OFFSET 0 {lock}) AS r"
            )
        return f"{select} AND {column} IN (SELECT value FROM json_each({keys}))"

    def one_of(self, keys: str) -> str:
        """``= ANY(...)`` of the list parameter ``keys`` (``IN`` its rows on SQLite), for a
        filter on rows the statement reads anyway (not a lookup: see :meth:`probe`)."""
        if self.postgres:
            return f"= ANY({keys})"
        return f"IN (SELECT value FROM json_each({keys}))"

    def keys(self, keys: str) -> str:
        """A FROM item ``k`` with one row (column ``key``) per item of the list parameter ``keys``,
        to probe per key with a correlated subquery (executed once per key, by index)."""
        if self.postgres:
            return f"unnest({keys}) AS k(key)"
        return f"(SELECT value AS key FROM json_each({keys})) AS k"

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
        self.values.append(spell(value, self.postgres))
        return f"${len(self.values)}" if self.postgres else "?"


def spell(value: Any, postgres: bool) -> Any:
    """A parameter's value as the dialect's driver takes it (SQLite keeps times as text)."""
    if isinstance(value, datetime) and not postgres:
        return value.isoformat(" ")
    return value


class Slot(str):
    """A parameter named, not yet valued: a statement whose text depends only on its shape is
    built once with ``p(Slot("name"))`` where its values go, and each call binds them with
    :func:`bind` (engine.counters keeps the member actions' statements so)."""

    __slots__ = ()


def bind(slots: list[Any], postgres: bool, values: dict[str, Any]) -> list[Any]:
    """The positional values of a statement built with :class:`Slot` parameters (``slots`` is its
    ``Params.values``): each slot takes ``values[name]``, spelled for the dialect; constants stay."""
    return [spell(values[item], postgres) if type(item) is Slot else item for item in slots]


# Runs one statement on a client (a connection or a transaction) and returns its rows, each a
# mapping of column to value in the statement's order.
RowsOf = Callable[[Any, str, list[Any]], Awaitable[Sequence[Mapping[str, Any]]]]


async def _tortoise_rows(client: Any, sql: str, values: list[Any]) -> Sequence[Mapping[str, Any]]:
    return list(await client.execute_query_dict(sql, values))


# How the member actions run their statements (engine.interactions, engine.counters): Tortoise's
# ``execute_query_dict`` unless the composition root installed a faster way for transactions
# (runtime.compat.run_in_transaction, docs/architecture.md "One vote, end to end"). Call it as
# ``sql.rows(...)``: installing replaces the module's attribute.
rows: RowsOf = _tortoise_rows


def install_rows(run: RowsOf | None) -> None:
    """Set how :data:`rows` runs statements; None restores Tortoise's own path."""
    global rows
    rows = run or _tortoise_rows


async def fetch(template: str, **params: Any) -> list[dict[str, Any]]:
    """Run one read on the default connection; ``template`` may use ``{d.method(...)}`` through
    :func:`render` first. Rows come back as dicts."""
    _, rows = await Statement(template).execute(connections.get("default"), **params)
    return [dict(row) for row in rows]


def dialect() -> Dialect:
    return Dialect(connections.get("default").capabilities.dialect)


M = TypeVar("M", bound=Model)


def from_row(model: type[M], row: Mapping[str, Any]) -> M:
    """``model._init_from_db(**row)``, as Tortoise 1.1.9 builds it (tests/engine/test_sql.py
    compares the two), without setting its four flags through ``Model.__setattr__``, whose
    failing ``hasattr`` on a new instance costs more than the row's values: hot paths build
    models from rows read by hand (a batch of the worker reads thousands of vote credits). A row
    without every column (a partial model) takes Tortoise's own path."""
    meta = model._meta
    made = model.__new__(model)
    state = made.__dict__
    state.update(
        _partial=False,
        _saved_in_db=True,
        _custom_generated_pk=meta.db_pk_column not in meta.generated_db_fields,
        _await_when_save={},
    )
    try:
        for key, name, _ in meta.db_native_fields:
            state[name] = row[key]
        for key, name, field in meta.db_default_fields:
            value = row[key]
            state[name] = value if value is None else field.field_type(value)
        for key, name, field in meta.db_complex_fields:
            state[name] = field.to_python_value(row[key])
    except KeyError:
        return model._init_from_db(**row)
    return made
