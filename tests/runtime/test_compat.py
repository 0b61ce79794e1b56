"""The private-API overrides: applied explicitly, only on the exact versions they were written for."""

from __future__ import annotations

import subprocess
import sys

import pytest
from arq.connections import RedisSettings
from arq.worker import func

from runtime import compat
from runtime.compat import IncompatibleVersion, ResilientWorker
from webhooks.delivery import deliver


def test_the_installed_versions_are_the_pinned_ones() -> None:
    compat.check_versions()  # raises otherwise
    assert compat.PINNED == {"arq": "0.28.0", "tortoise-orm": "1.1.9"}


def test_any_other_version_fails_loudly_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"arq": "0.28.0", "tortoise-orm": "1.2.0"}
    monkeypatch.setattr(compat, "version", installed.__getitem__)
    with pytest.raises(IncompatibleVersion, match=r"tortoise-orm 1\.2\.0 \(written for 1\.1\.9\)"):
        compat.apply()
    installed["arq"] = "0.28.1"  # a patch release counts too: internals move in those
    with pytest.raises(IncompatibleVersion, match=r"arq 0\.28\.1 \(written for 0\.28\.0\)"):
        compat.check_versions()
    with pytest.raises(IncompatibleVersion):
        ResilientWorker(
            functions=[func(deliver, name="deliver")],
            redis_settings=RedisSettings(),
            handle_signals=False,
        )


def test_importing_the_engine_patches_nothing_start_up_does() -> None:
    probe = (
        "from tortoise.backends.base.client import TransactionContextPooled as P\n"
        "from tortoise.backends.sqlite.client import SqliteTransactionContext as S\n"
        "before = (S.__aenter__, P.__aenter__)\n"
        "import engine.db, engine.events, engine.votes\n"
        "print(before == (S.__aenter__, P.__aenter__))\n"
        "from runtime import compat\n"
        "compat.apply(); compat.apply()\n"
        "print(getattr(S.__aenter__, '_cosource_hardened', False), before[1] is not P.__aenter__)\n"
        "patched = P.__aenter__; compat.apply(); print(P.__aenter__ is patched)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "True", "True", "True"]


async def test_the_actions_statements_keep_tortoises_errors_and_log_lines(tenant, database) -> None:
    # engine.sql.rows runs straight on the transaction's asyncpg connection (PostgreSQL): a unique
    # violation must still be Tortoise's IntegrityError (engine.conflicts turns it into Conflict),
    # a bad statement its OperationalError, and each statement a tortoise.db_client debug line.
    from tortoise.exceptions import IntegrityError, OperationalError

    from engine import events, sql
    from tests import factories
    from tests.conftest import count_queries

    assert sql.rows is compat.run_in_transaction
    member = await factories.member()
    placeholder = "$1" if database == "postgres" else "?"
    with count_queries() as log:
        async with events.unit_of_work() as uow:
            rows = await sql.rows(
                uow.connection, f"SELECT id FROM member WHERE id = {placeholder}", [member.id]
            )
    assert [dict(r) for r in rows] == [{"id": member.id}]
    assert sum("FROM member WHERE id" in s for s in log.statements) == 1
    duplicate = (
        "INSERT INTO member (tenant_id, external_id, display_name, email, tier, verified,"
        " customer_value_cents, reputation, level, created_at, updated_at)"
        " SELECT tenant_id, external_id, display_name, email, tier, verified,"
        " customer_value_cents, reputation, level, created_at, updated_at FROM member"
        f" WHERE id = {placeholder}"
    )
    with pytest.raises(IntegrityError):
        async with events.unit_of_work() as uow:
            await sql.rows(uow.connection, duplicate, [member.id])
    with pytest.raises(OperationalError):
        async with events.unit_of_work() as uow:
            await sql.rows(uow.connection, "SELECT no_such_column FROM member", [])
