"""Bulk member import: CSV or JSON Lines, streamed, upserted by external id in batches.

A file is checked first as a whole (decodes as UTF-8, a known header or JSON objects), so a
malformed file writes nothing. Then rows are read one at a time: each is validated by the same
rules as ``upsertMember`` (engine.members.validate_member), a bad row is reported with its line
number and reasons and never blocks the good ones, and good rows are written :data:`BATCH_SIZE`
at a time, one transaction per batch (engine.member_upsert). An empty or absent value means
"leave as it is", as in ``upsertMember``. Members of a batch who already support ideas get those
ideas' supporter numbers recounted in the batch's transaction (engine.supporters).

Parsing is most of an import's time in Python, so a CSV row whose cells are all printable ASCII
is checked inline (:func:`_plain_row`); anything it cannot vouch for goes through the full rules,
which give the same values and the exact reason.
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

from engine import member_upsert
from engine.errors import DomainError, ErrorCode
from engine.member_upsert import Fields
from engine.members import EMAIL_MAX, EXTERNAL_ID_MAX, MemberData, validate_member
from engine.text import NAME_MAX, clean

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
_FLAGS: dict[str, bool | None] = {
    "": None,
    **dict.fromkeys(_TRUE, True),
    **dict.fromkeys(_FALSE, False),
}
_TIER_MAX = 50
_FIELDS = ("external_id", "display_name", "email", "verified", "tier", "customer_value_cents")


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


Row = tuple[int, Fields | Rejected]


def fields_of(data: MemberData) -> Fields:
    """A validated row, cleaned as it will be stored; None where the row gives nothing."""

    def text(value: str | None) -> str | None:
        return (clean(value) or None) if value else None

    return (
        data.external_id.strip(),
        text(data.display_name),
        text(data.email),
        data.verified,
        text(data.tier),
        data.customer_value_cents,
    )


def _plain_row(cells: list[str], where: tuple[int, ...]) -> Fields | None:
    """The row's fields when every cell is printable ASCII and every rule plainly holds; None
    sends the row to :func:`to_member`, which decides (and words the reason) as for any row.

    For printable ASCII, :func:`engine.text.clean` is ``strip`` and nothing is a control
    character, so the checks below are exactly ``validate_member``'s.
    """
    joined = "".join(cells)
    if not (joined.isascii() and joined.isprintable()):
        return None
    i_id, i_name, i_email, i_flag, i_tier, i_value = where
    external_id = cells[i_id].strip()
    if not external_id or len(external_id) > EXTERNAL_ID_MAX:
        return None
    name = cells[i_name].strip() or None if i_name >= 0 else None
    email = cells[i_email].strip() or None if i_email >= 0 else None
    tier = cells[i_tier].strip() or None if i_tier >= 0 else None
    if (
        (name is not None and len(name) > NAME_MAX)
        or (email is not None and (len(email) > EMAIL_MAX or "@" not in email))
        or (tier is not None and len(tier) > _TIER_MAX)
    ):
        return None
    verified = None
    if i_flag >= 0:
        flag = cells[i_flag].strip().lower()
        if flag not in _FLAGS:
            return None
        verified = _FLAGS[flag]
    value = None
    if i_value >= 0:
        digits = cells[i_value].strip()
        if digits:
            if not digits.isdigit():
                return None
            value = int(digits)
    return external_id, name, email, verified, tier, value


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
    where = tuple(header.index(f) if f in header else -1 for f in _FIELDS)
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
        plain = _plain_row(cells, where)
        if plain is not None:
            yield line, plain
        else:
            yield line, _parsed(line, dict(zip(header, cells, strict=True)))


def _parsed(line: int, raw: dict[str, Any]) -> Fields | Rejected:
    try:
        return fields_of(to_member(raw))
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
    """Parse on while the database writes, in lanes (engine.member_upsert.lanes): an external id
    always goes to the same lane, and a lane has one batch in flight, so the rows of one member
    still apply in file order."""
    report = ImportReport()
    count = member_upsert.lanes()
    batches: list[list[Fields]] = [[] for _ in range(count)]
    writing: list[asyncio.Task[None] | None] = [None] * count
    try:
        for n, (_, row) in enumerate(rows, start=1):
            report.rows += 1
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the writes in flight take their next round trip
            if isinstance(row, Rejected):
                report.rejected.append(row)
                continue
            lane = hash(row[0]) % count if count > 1 else 0
            batch = batches[lane]
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                in_flight = writing[lane]
                if in_flight is not None:
                    await in_flight
                writing[lane] = asyncio.create_task(_write(batch, report))
                batches[lane] = []
        for lane, batch in enumerate(batches):
            in_flight = writing[lane]
            if batch:
                if in_flight is not None:
                    await in_flight
                writing[lane] = asyncio.create_task(_write(batch, report))
        for in_flight in writing:
            if in_flight is not None:
                await in_flight
    finally:
        for in_flight in writing:
            if in_flight is not None and not in_flight.done():
                in_flight.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await in_flight
    return report


async def _write(batch: list[Fields], report: ImportReport) -> None:
    created = await member_upsert.write(member_upsert.merge(batch))
    report.created += created  # members new to this tenant
    report.updated += len(batch) - created  # every other good row updated a member
