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
