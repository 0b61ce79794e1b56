"""Moving a brand between installations: every row of one tenant out as JSON lines, and back in.

``cosource tenant export SLUG > brand.jsonl`` writes a header line, then one line per row of every
table that belongs to the tenant (the tenant row first, then tables in foreign-key order, each by
id). ``cosource tenant import brand.jsonl`` writes them into another database with the same ids,
so every reference holds, and a second export of the imported brand is the same file.

The file is a complete copy of the brand, secrets included in clear (identity and webhook signing
secrets are sealed with *this* installation's key, which the target does not have; they are
re-sealed under the target's key on import): keep it like a database backup. Importing needs a
database migrated to the same schema that holds no row with the same ids (normally an empty one).
See docs/architecture.md ("Moving a brand").
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import Tortoise, connections, fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from engine.clock import iso, utcnow
from engine.errors import DomainError, ErrorCode
from engine.models.tenants import Tenant

FORMAT = "cosource-tenant"
VERSION = 1
BATCH = 500


def _models() -> list[type[Model]]:
    """Tenant, then every tenant-owned model, parents before children (foreign keys)."""
    owned = [
        model
        for app in Tortoise.apps.values()
        for model in app.values()
        if "tenant_id" in model._meta.fields_map and model is not Tenant
    ]
    ordered: list[type[Model]] = []
    placed: set[type[Model]] = {Tenant}

    def visit(model: type[Model], path: tuple[type[Model], ...] = ()) -> None:
        if model in placed or model in path:
            return
        for name in model._meta.fk_fields:
            parent = model._meta.fields_map[name].related_model  # type: ignore[attr-defined]
            if parent is not model:
                visit(parent, (*path, model))
        placed.add(model)
        ordered.append(model)

    for model in sorted(owned, key=lambda m: m._meta.db_table):
        visit(model)
    return [Tenant, *ordered]


def _columns(model: type[Model]) -> list[tuple[str, str, fields.Field[Any]]]:
    """(attribute, column, field) of every stored column, in a stable order."""
    projection = model._meta.fields_db_projection
    return [
        (name, column, model._meta.fields_map[name]) for name, column in sorted(projection.items())
    ]


def _self_references(model: type[Model]) -> set[str]:
    """Columns pointing at the same table (merged_into, parent): set after every row is in."""
    found = set()
    for name in model._meta.fk_fields:
        field: Any = model._meta.fields_map[name]
        if field.related_model is model:
            found.add(field.source_field or f"{name}_id")
    return found


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}  # microseconds kept: a re-export is the same file
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "$dt":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
        if tag == "$dec":
            return Decimal(raw)
        if tag == "$b64":
            return base64.b64decode(raw)
    return value


async def export_tenant(tenant: Tenant, latest_migration: str) -> AsyncIterator[dict[str, Any]]:
    """The brand as JSON-ready dicts: a header, then one ``{"table", "row"}`` per row."""
    yield {
        "format": FORMAT,
        "version": VERSION,
        "migration": latest_migration,
        "tenant": tenant.slug,
        "exportedAt": iso(utcnow()),
    }
    for model in _models():
        columns = _columns(model)
        query = (
            Tenant.filter(id=tenant.id)
            if model is Tenant
            else model.unscoped().filter(tenant_id=tenant.id)  # type: ignore[attr-defined]
        )
        last = 0
        while True:
            rows = await query.filter(id__gt=last).order_by("id").limit(BATCH)
            if not rows:
                break
            for row in rows:
                yield {
                    "table": model._meta.db_table,
                    "row": {column: _encode(getattr(row, name)) for name, column, _ in columns},
                }
            last = rows[-1].pk


async def import_tenant(lines: Iterable[dict[str, Any]], latest_migration: str) -> Tenant:
    """Write an export into this database, ids kept; all or nothing."""
    iterator = iter(lines)
    header = next(iterator, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DomainError(ErrorCode.INVALID, "not a Cosource tenant export", "file")
    if header.get("version") != VERSION:
        raise DomainError(
            ErrorCode.INVALID,
            f"export format version {header.get('version')} is not {VERSION}",
            "file",
        )
    if header.get("migration") != latest_migration:
        raise DomainError(
            ErrorCode.INVALID,
            f"the export was made at migration {header.get('migration')}, this database is at "
            f"{latest_migration}: migrate both to the same version first",
            "file",
        )
    by_table = {model._meta.db_table: model for model in _models()}
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    deferred: list[tuple[str, str, Any, Any]] = []
    tenant: Tenant | None = None
    counts: dict[str, int] = {}
    async with in_transaction() as tx:
        for line in iterator:
            model = by_table.get(line.get("table", ""))
            if model is None or not isinstance(line.get("row"), dict):
                raise DomainError(ErrorCode.INVALID, f"unknown table {line.get('table')!r}", "file")
            row = line["row"]
            if model is Tenant and (
                await Tenant.filter(id=row["id"]).exists()
                or await Tenant.filter(slug=row["slug"]).exists()
            ):
                raise DomainError(
                    ErrorCode.ALREADY_EXISTS,
                    f"a brand with id {row['id']} or slug {row['slug']!r} exists here",
                    "file",
                )
            selfrefs = _self_references(model)
            names, values = [], []
            for _, column, field in _columns(model):
                value = _decode(row.get(column))
                if column in selfrefs and value is not None:
                    deferred.append((model._meta.db_table, column, value, row["id"]))
                    value = None
                names.append(column)
                values.append(field.to_db_value(value, model) if value is not None else None)
            places = ", ".join(f"${n + 1}" if postgres else "?" for n in range(len(names)))
            quoted = ", ".join(f'"{n}"' for n in names)
            await tx.execute_query(
                f'INSERT INTO "{model._meta.db_table}" ({quoted}) VALUES ({places})', values
            )
            counts[model._meta.db_table] = counts.get(model._meta.db_table, 0) + 1
            if model is Tenant:
                tenant = Tenant(**{"id": row["id"], "slug": row["slug"], "name": row["name"]})
        for table, column, value, row_id in deferred:
            p = ("$1", "$2") if postgres else ("?", "?")
            await tx.execute_query(
                f'UPDATE "{table}" SET "{column}" = {p[0]} WHERE id = {p[1]}', [value, row_id]
            )
        if postgres:
            for table in counts:
                await tx.execute_query(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
                )
    if tenant is None:
        raise DomainError(ErrorCode.INVALID, "the export holds no brand", "file")
    return await Tenant.get(id=tenant.id)
