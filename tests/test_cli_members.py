"""`cosource members import` as a user runs it: exit codes, rejected lines, nothing from bad files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.test_cli import run


def test_members_import_reports_bad_rows_and_refuses_malformed_files(tmp_path: Path) -> None:
    db_path = tmp_path / "cli.db"
    env = {"COSOURCE_DATABASE_URL": f"sqlite://{db_path}"}
    assert run("migrate", env=env).returncode == 0
    assert run("tenant", "create", "Import brand", env=env).returncode == 0
    good = tmp_path / "members.csv"
    good.write_text("external_id,email,customer_value_cents\nc-1,a@example.com,10\nc-2,nope,5\n")
    result = run("members", "import", str(good), "--tenant", "import-brand", env=env)
    assert result.returncode == 1, result.stderr
    assert "line 3: email: email is not an email address" in result.stderr
    assert "2 rows: 1 members created, 0 updated, 1 rejected" in result.stdout
    malformed = tmp_path / "wrong.csv"
    malformed.write_text("customer,email\nc-3,a@example.com\n")
    refused = run("members", "import", str(malformed), env=env)
    assert refused.returncode == 2
    assert "unknown column" in refused.stderr
    with sqlite3.connect(db_path) as conn:
        ids = [r[0] for r in conn.execute("SELECT external_id FROM member ORDER BY external_id")]
    assert ids == ["c-1"]
