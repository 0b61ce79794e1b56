"""Member import bench: a 100 000-row CSV through `cosource members import`'s engine function on
PostgreSQL, printed as rows/s, next to raw floors on the same rows in the same run: PostgreSQL's
COPY of them (for creating) and one plain UPDATE of every row (for updating).

    python -m bench import        # or: python -m bench member_import, python -m bench.member_import

Three passes: into an empty tenant (every row creates a member), the file again with every
member's value and tier changed (every row updates one), then a mixed file (half of its rows
change existing members, half create new ones). Goal (issue 13): >= 20 000 rows/s. The load
average is printed beside the figures: on a shared machine compare the ratios, not the rates.
Knob: COSOURCE_BENCH_IMPORT_ROWS (100000).
"""

from __future__ import annotations

import asyncio
import csv
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from tortoise import Tortoise

from bench.harness import MEMBER_COLUMNS, migrated_database
from engine.member_import import import_file
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant

ROWS = int(os.environ.get("COSOURCE_BENCH_IMPORT_ROWS", "100000"))
GOAL = 20_000


def write_csv(path: Path, rows: int, *, revision: int = 0, start: int = 0) -> None:
    """``revision`` 1 changes every member's value and tier: the update pass writes every row;
    ``start`` shifts the external ids (a mixed file: existing members and new ones)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["external_id", "display_name", "email", "verified", "tier", "customer_value_cents"]
        )
        for n in range(start, start + rows):
            writer.writerow(
                [
                    f"cus_{n:07d}",
                    f"Customer Nr. {n}",
                    f"customer{n}@example.com",
                    "true" if n % 3 else "false",
                    ("gold", "silver", "bronze")[(n + revision) % 3],
                    (n * 37) % 500_000 + revision,
                ]
            )


async def copy_floor(url: str, tenant_id: int, path: Path) -> float:
    """The same rows by COPY (no validation, no upsert): what PostgreSQL can take at most."""
    now = datetime.now(UTC)
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        records = [
            (tenant_id, r[0], r[1], r[2], r[3] == "true", r[4] or None, int(r[5]), 0, 0, now, now)
            for r in reader
        ]
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "member",
            records=records,
            columns=MEMBER_COLUMNS,
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def update_floor(url: str, tenant_id: int) -> float:
    """One plain UPDATE of every row COPY wrote: what PostgreSQL takes to rewrite them at most."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE member")
        started = time.perf_counter()
        await conn.execute(
            'UPDATE "member" SET "customer_value_cents" = "customer_value_cents" + 1, '
            '"tier" = \'platinum\', "updated_at" = now() WHERE "tenant_id" = $1',
            tenant_id,
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run() -> None:
    async with migrated_database() as url:
        brand = await create_tenant("Import Bench Brand")
        floor_brand = await create_tenant("Import Bench Floor")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "members.csv"
            changed = Path(tmp) / "members-changed.csv"
            mixed = Path(tmp) / "members-mixed.csv"
            write_csv(path, ROWS)
            write_csv(changed, ROWS, revision=1)
            write_csv(mixed, ROWS, revision=2, start=ROWS // 2)
            size_mb = path.stat().st_size / 1e6
            with tenant_scope(brand.tenant.id):
                timings = []
                passes = (("create", path), ("update", changed), ("mixed", mixed))
                for label, source in passes:
                    if label != "create":
                        # Steady state: autovacuum has analyzed the table a first import filled.
                        await Tortoise.get_connection("default").execute_script("ANALYZE member")
                    started = time.perf_counter()
                    report = await import_file(source)
                    elapsed = time.perf_counter() - started
                    assert not report.rejected and report.imported == ROWS, report
                    expected = {"create": ROWS, "update": 0, "mixed": ROWS - ROWS // 2}[label]
                    assert report.created == expected, (label, report.created)
                    timings.append((label, elapsed))
            copy = await copy_floor(url, floor_brand.tenant.id, path)
            update = await update_floor(url, floor_brand.tenant.id)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"  file: {ROWS} rows, {size_mb:.1f} MB CSV; COPY floor {ROWS / copy:,.0f} rows/s, "
            f"UPDATE floor {ROWS / update:,.0f} rows/s; load average {load} on "
            f"{os.cpu_count()} cores"
        )
        for label, elapsed in timings:
            rate = ROWS / elapsed
            floor, name = (copy, "COPY") if label == "create" else (update, "UPDATE")
            print(
                f"  import {ROWS} rows ({label}): {rate:,.0f} rows/s  ({elapsed:.2f} s; "
                f"{floor / elapsed:.2f}x {name}'s rate; goal >= {GOAL:,} rows/s: "
                f"{'met' if rate >= GOAL else 'MISSED'})"
            )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
