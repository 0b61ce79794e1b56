"""Bulk member import: CSV or JSON Lines, streamed, upserted by external id in batches.

A file is checked first as a whole (decodes as UTF-8, a known header or JSON objects), so a
malformed file writes nothing. Then rows are read one at a time: each is validated by the same
rules as ``upsertMember`` (engine.members.validate_member), a bad row is reported with its line
number and reasons and never blocks the good ones, and good rows are written :data:`BATCH_SIZE`
at a time with one ``INSERT ... ON CONFLICT (tenant_id, external_id) DO UPDATE`` statement run as
a batch (one transaction per batch). An empty or absent value means "leave as it is", as in
``upsertMember``. Members of a batch who already support ideas get those ideas' supporter numbers
recounted in the batch's transaction (engine.supporters).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from engine import events, supporters
from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.members import SUPPORTER_INPUTS, MemberData, validate_member
from engine.models.members import Member
from engine.tenancy import current_tenant_id
from engine.text import clean

BATCH_SIZE = 10_000
# importMembers takes at most this many rows per call; larger sets go through the CLI.
MAX_MUTATION_ROWS = 1000
_CHUNK = 1 << 16
_YIELD_EVERY = 250

# Accepted column / key names (snake or camel case) for each member field.
COLUMNS: dict[str, str] = {
    "external_id": "external_id",
    "externalId": "external_id",
    "display_name": "display_name",
    "displayName": "display_name",
    "email": "email",
    "verified": "verified",
    "tier": "tier",
    "customer_value_cents": "customer_value_cents",
    "customerValueCents": "customer_value_cents",
}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class MalformedFile(DomainError):
    """The file as a whole is unusable (not UTF-8, not CSV/JSON Lines, wrong header)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID, message, "file")


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    external_id: str | None = None


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    # Good rows that changed an existing member (a member listed twice counts twice).
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


Progress = Callable[[int], None]  # called with the bytes read so far


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"verified: {value!r} is not true or false")


def _cents(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        raise ValueError("customer_value_cents: a whole number of cents is expected")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(
            f"customer_value_cents: {value!r} is not a whole number of cents"
        ) from None


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: text expected")
    return value if value.strip() else None


def to_member(raw: dict[str, Any]) -> MemberData:
    """One row as MemberData, or ValueError/DomainError saying what is wrong with it."""
    values = {COLUMNS[k]: v for k, v in raw.items() if k in COLUMNS}
    external_id = values.get("external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    data = MemberData(
        external_id=_text(external_id, "external_id") or "",
        display_name=_text(values.get("display_name"), "display_name"),
        email=_text(values.get("email"), "email"),
        verified=_bool(values.get("verified")),
        tier=_text(values.get("tier"), "tier"),
        customer_value_cents=_cents(values.get("customer_value_cents")),
    )
    validate_member(data)
    return data


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in exc.errors)
    return str(exc)


def check_header(names: Iterable[str]) -> None:
    names = list(names)
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise MalformedFile(
            f"unknown column(s) {', '.join(map(repr, unknown))}; known: "
            "external_id, display_name, email, verified, tier, customer_value_cents"
        )
    if "external_id" not in {COLUMNS[n] for n in names}:
        raise MalformedFile("the header has no external_id column")
    if len({COLUMNS[n] for n in names}) != len(names):
        raise MalformedFile("a column appears twice in the header")


Row = tuple[int, MemberData | Rejected]


def csv_rows(stream: IO[str]) -> Iterator[Row]:
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise MalformedFile("the file is empty") from None
    except csv.Error as exc:
        raise MalformedFile(f"not a CSV file: {exc}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    check_header(header)
    header = [COLUMNS[h] for h in header]  # canonical names once, not per row
    width = len(header)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, Rejected(reader.line_num, f"not valid CSV: {exc}")
            continue
        line = reader.line_num
        if not cells or cells == [""]:
            continue  # blank line
        if len(cells) != width:
            yield line, Rejected(line, f"{len(cells)} fields where the header has {width}")
            continue
        yield line, _parsed(line, dict(zip(header, cells, strict=True)))


def _parsed(line: int, raw: dict[str, Any]) -> MemberData | Rejected:
    try:
        return to_member(raw)
    except (ValueError, DomainError) as exc:
        external_id = raw.get("external_id", raw.get("externalId"))
        return Rejected(line, _reason(exc), str(external_id) if external_id is not None else None)


def jsonl_rows(stream: IO[str]) -> Iterator[Row]:
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            yield line, Rejected(line, "not a JSON object")
            continue
        if not isinstance(raw, dict):
            yield line, Rejected(line, "not a JSON object")
            continue
        unknown = [k for k in raw if k not in COLUMNS]
        if unknown:
            yield line, Rejected(line, f"unknown key(s) {', '.join(map(repr, unknown))}")
            continue
        yield line, _parsed(line, raw)


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise MalformedFile("the file must end in .csv, .jsonl or .ndjson")


def check_file(path: Path) -> None:
    """Everything that makes a whole file unusable, found before anything is written."""
    kind = file_format(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = ""
    with path.open("rb") as raw:
        while chunk := raw.read(_CHUNK):
            if b"\x00" in chunk:
                raise MalformedFile("not a text file (it contains NUL bytes)")
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise MalformedFile(f"not UTF-8 text: {exc.reason} near byte {exc.start}") from None
            if len(first) < _CHUNK:
                first += text
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise MalformedFile(f"not UTF-8 text: {exc.reason} at the end") from None
    if kind == "csv":
        next(csv_rows(io.StringIO(first)), None)  # the header check
        return
    lines = [line for line in first.splitlines() if line.strip()]
    if not lines:
        raise MalformedFile("the file is empty")
    try:
        parsed = orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        raise MalformedFile("not JSON Lines: the first line is not JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedFile("not JSON Lines: the first line is not a JSON object")


class _Counting(io.RawIOBase):
    """Counts bytes as the text layer reads them, for a progress bar."""

    def __init__(self, inner: IO[bytes], progress: Progress | None) -> None:
        self.inner, self.progress, self.done = inner, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.inner.readinto(buffer)  # type: ignore[attr-defined]
        self.done += n or 0
        if self.progress is not None:
            self.progress(self.done)
        return int(n or 0)


async def import_file(path: Path, progress: Progress | None = None) -> ImportReport:
    """Import a CSV or JSON Lines file into the tenant in scope (MalformedFile: nothing written)."""
    check_file(path)
    kind = file_format(path)
    with path.open("rb") as raw:
        counting = _Counting(raw, progress)
        text = io.TextIOWrapper(
            io.BufferedReader(counting, _CHUNK), encoding="utf-8-sig", newline=""
        )
        rows = csv_rows(text) if kind == "csv" else jsonl_rows(text)
        return await import_rows(rows)


async def import_members(items: list[dict[str, Any]]) -> ImportReport:
    """The importMembers mutation: rows given inline, numbered from 1 in the report."""
    if len(items) > MAX_MUTATION_ROWS:
        raise DomainError(
            ErrorCode.OUT_OF_RANGE,
            f"at most {MAX_MUTATION_ROWS} rows per call; use `cosource members import` for more",
            "rows",
        )
    return await import_rows((n, _parsed(n, raw)) for n, raw in enumerate(items, start=1))


async def import_rows(rows: Iterable[Row]) -> ImportReport:
    """Parse the next batch while the database writes the previous one (one write in flight, so
    batches still commit in file order)."""
    report = ImportReport()
    batch: list[MemberData] = []
    writing: asyncio.Task[None] | None = None
    try:
        for n, (_, row) in enumerate(rows, start=1):
            report.rows += 1
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the write in flight take its next round trip
            if isinstance(row, Rejected):
                report.rejected.append(row)
                continue
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                if writing is not None:
                    await writing
                writing = asyncio.create_task(_write(batch, report))
                batch = []
        if writing is not None:
            await writing
            writing = None
        if batch:
            await _write(batch, report)
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
    return report


def _upsert_sql() -> str:
    """SQLite: one upsert per row, run as a batch (in-process, so already cheap per row)."""
    return (
        'INSERT INTO "member" ("tenant_id", "external_id", "display_name", "email", "verified", '
        '"tier", "customer_value_cents", "reputation", "level", "created_at", "updated_at") '
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?8) "
        'ON CONFLICT ("tenant_id", "external_id") DO UPDATE SET '
        '"display_name" = COALESCE(?9, "member"."display_name"), '
        '"email" = COALESCE(?4, "member"."email"), '
        '"verified" = COALESCE(?10, "member"."verified"), '
        '"tier" = COALESCE(?6, "member"."tier"), '
        '"customer_value_cents" = COALESCE(?11, "member"."customer_value_cents"), '
        '"updated_at" = ?8'
    )


# PostgreSQL: two set-based statements per batch over arrays, instead of a round trip per row.
_PG_INSERT = """
INSERT INTO "member" ("tenant_id", "external_id", "display_name", "email", "verified", "tier",
                      "customer_value_cents", "reputation", "level", "created_at", "updated_at")
SELECT $1, t.external_id, t.display_name, t.email, t.verified, t.tier, t.value, 0, 0, $2, $2
FROM unnest($3::varchar[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::bigint[])
     AS t(external_id, display_name, email, verified, tier, value)
ON CONFLICT ("tenant_id", "external_id") DO NOTHING
RETURNING "external_id"
"""
_PG_UPDATE = """
UPDATE "member" AS m SET
    "display_name" = COALESCE(t.display_name, m."display_name"),
    "email" = COALESCE(t.email, m."email"),
    "verified" = COALESCE(t.verified, m."verified"),
    "tier" = COALESCE(t.tier, m."tier"),
    "customer_value_cents" = COALESCE(t.value, m."customer_value_cents"),
    "updated_at" = $2
FROM unnest($3::varchar[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::bigint[])
     AS t(external_id, display_name, email, verified, tier, value)
WHERE m."tenant_id" = $1 AND m."external_id" = t.external_id
  AND (m."display_name" IS DISTINCT FROM COALESCE(t.display_name, m."display_name")
       OR m."email" IS DISTINCT FROM COALESCE(t.email, m."email")
       OR m."verified" IS DISTINCT FROM COALESCE(t.verified, m."verified")
       OR m."tier" IS DISTINCT FROM COALESCE(t.tier, m."tier")
       OR m."customer_value_cents" IS DISTINCT FROM COALESCE(t.value, m."customer_value_cents"))
RETURNING m."id"
"""


def _default_name(external_id: str) -> str:
    return f"Member {external_id[-6:]}"


def _merged(batch: list[MemberData]) -> dict[str, dict[str, Any]]:
    """One change per external id: later rows override what they give, as if applied in turn."""
    merged: dict[str, dict[str, Any]] = {}
    for d in batch:
        external_id = d.external_id.strip()
        given = {
            "display_name": clean(d.display_name) or None if d.display_name else None,
            "email": clean(d.email) or None if d.email else None,
            "verified": d.verified,
            "tier": clean(d.tier) or None if d.tier else None,
            "customer_value_cents": d.customer_value_cents,
        }
        row = merged.setdefault(external_id, {})
        row.update({k: v for k, v in given.items() if v is not None})
    return merged


async def _write(batch: list[MemberData], report: ImportReport) -> None:
    tenant_id = current_tenant_id()
    now = utcnow()
    merged = _merged(batch)
    ids = list(merged)
    recount = any(k in row for row in merged.values() for k in SUPPORTER_INPUTS)
    async with events.unit_of_work() as uow:
        connection = uow.connection
        if connection.capabilities.dialect == "postgres":
            # Raw statements over arrays: the ORM would build thousands of IN parameters.
            created, changed_ids = await _write_postgres(connection, tenant_id, now, merged)
            if changed_ids and recount:
                _, rows = await connection.execute_query(_PG_SUPPORTED, [tenant_id, changed_ids])
                await supporters.refresh_ideas(sorted(int(r["idea_id"]) for r in rows))
        else:
            pairs = await Member.filter(external_id__in=ids).values_list("id", "external_id")
            created = len(ids) - len(pairs)
            await connection.execute_many(_upsert_sql(), _sqlite_values(tenant_id, now, batch))
            if pairs and recount:
                await supporters.refresh_for_members([int(i) for i, _ in pairs])
    report.created += created  # members new to this tenant
    report.updated += len(batch) - created  # every other good row updated a member


_PG_SUPPORTED = (
    'SELECT "idea_id" FROM "vote" WHERE "tenant_id" = $1 AND "value" = 1 AND "member_id" = ANY($2) '
    'UNION SELECT "idea_id" FROM "pledge" WHERE "tenant_id" = $1 AND "quantity" > 0 '
    'AND "member_id" = ANY($2)'
)


async def _write_postgres(
    connection: Any, tenant_id: int, now: Any, merged: dict[str, dict[str, Any]]
) -> tuple[int, list[int]]:
    """INSERT what is new (with every value the file gave), UPDATE the rest where a value
    differs; returns how many were created and the ids of existing members that changed."""
    rows = list(merged.items())
    # execute_query_dict: Tortoise's execute_query drops RETURNING rows of INSERT and UPDATE.
    inserted_rows = await connection.execute_query_dict(
        _PG_INSERT, [tenant_id, now, *_insert_columns(rows)]
    )
    inserted = {row["external_id"] for row in inserted_rows}
    rest = [(e, r) for e, r in rows if e not in inserted]
    if not rest:
        return len(inserted), []
    # PostgreSQL usually hashes the tenant's members for this join; room for that hash in memory
    # halves the statement's time on 100 000 members (EXPLAIN ANALYZE). Ends with the batch.
    await connection.execute_script("SET LOCAL work_mem = '64MB'")
    updated = await connection.execute_query_dict(_PG_UPDATE, [tenant_id, now, *_columns(rest)])
    return len(inserted), [int(row["id"]) for row in updated]


def _columns(rows: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    return [
        [external_id for external_id, _ in rows],
        [r.get("display_name") for _, r in rows],
        [r.get("email") for _, r in rows],
        [r.get("verified") for _, r in rows],
        [r.get("tier") for _, r in rows],
        [r.get("customer_value_cents") for _, r in rows],
    ]


def _insert_columns(rows: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    ids, names, emails, verified, tiers, values = _columns(rows)
    return [
        ids,
        [name or _default_name(e) for e, name in zip(ids, names, strict=True)],
        emails,
        [bool(v) for v in verified],
        tiers,
        [v or 0 for v in values],
    ]


def _sqlite_values(tenant_id: int, now: Any, batch: list[MemberData]) -> list[list[Any]]:
    values = []
    for d in batch:
        external_id = d.external_id.strip()
        name = clean(d.display_name) if d.display_name else None
        values.append(
            [
                tenant_id,
                external_id,
                name or _default_name(external_id),
                clean(d.email) if d.email else None,
                bool(d.verified),
                clean(d.tier) if d.tier else None,
                d.customer_value_cents or 0,
                now,
                name,
                d.verified,
                d.customer_value_cents,
            ]
        )
    return values
