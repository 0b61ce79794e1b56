"""The `cosource` command as a user runs it: real subprocesses, real databases."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.schema import export_sdl

COSOURCE = [sys.executable, "-m", "api.cli"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COSOURCE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_export_schema_prints_the_sdl(tmp_path: Path) -> None:
    result = run("export-schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == export_sdl()
    out = tmp_path / "schema.graphql"
    assert run("export-schema", "--output", str(out)).returncode == 0
    assert out.read_text() == export_sdl()


def test_migrate_then_tenant_create_prints_keys_once(tmp_path: Path) -> None:
    env = {"COSOURCE_DATABASE_URL": f"sqlite://{tmp_path / 'cli.db'}"}
    migrated = run("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout
    assert run("migrate", env=env).returncode == 0  # idempotent
    created = run("tenant", "create", "Acme Coffee", env=env)
    assert created.returncode == 0, created.stderr
    lines = created.stdout
    assert "sk_" in lines and "pk_" in lines and "identity secret" in lines
    duplicate = run("tenant", "create", "Acme Coffee", env=env)
    assert duplicate.returncode == 1
    assert "exists" in duplicate.stderr


def test_demo_seed_only_creates_a_usable_demo(tmp_path: Path) -> None:
    env = {"COSOURCE_DATABASE_URL": f"sqlite://{tmp_path / 'demo.db'}"}
    first = run("demo", "--seed-only", env=env)
    assert first.returncode == 0, first.stderr
    assert "Demo Roasters" in first.stdout and "pk_" in first.stdout
    again = run("demo", "--seed-only", env=env)  # re-running reuses the brand
    assert again.returncode == 0, again.stderr
    owner = re.compile(
        r"console brand\s+demo\s+console email\s+owner@demo\.example\s+console password\s+(\S+)"
    )
    before, after = owner.search(first.stdout), owner.search(again.stdout)
    assert before and after, first.stdout
    assert len(before.group(1)) >= 12  # the console's minimum
    assert before.group(1) != after.group(1)  # a fresh password on every start


def test_worker_without_redis_explains_itself() -> None:
    result = run("worker", env={"COSOURCE_REDIS_URL": ""})
    assert result.returncode == 2
    assert "COSOURCE_REDIS_URL" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["tenant", "--help"]])
def test_help_lists_commands(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_secrets_rotate_moves_every_secret_to_the_new_key(tmp_path: Path) -> None:
    old = run("secrets", "generate-key").stdout.strip()
    new = run("secrets", "generate-key").stdout.strip()
    assert old and new and old != new
    env = {"COSOURCE_DATABASE_URL": f"sqlite://{tmp_path / 'keys.db'}", "COSOURCE_SECRET_KEY": old}
    assert run("migrate", env=env).returncode == 0
    assert run("tenant", "create", "Key Brand", env=env).returncode == 0
    rotated = run(
        "secrets",
        "rotate",
        env={**env, "COSOURCE_SECRET_KEY": new, "COSOURCE_SECRET_KEY_PREVIOUS": old},
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "tenant.identity_secret: 1 re-sealed" in rotated.stdout
    # The new key alone now opens everything; the old key alone opens nothing.
    assert run("secrets", "rotate", env={**env, "COSOURCE_SECRET_KEY": new}).returncode == 0
    stale = run("secrets", "rotate", env=env)
    assert stale.returncode == 1 and "cannot be opened" in stale.stdout
