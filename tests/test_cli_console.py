"""`cosource console-user add` and `invite` as a user runs them: real subprocesses, a real database."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_cli import run


def test_console_user_invite_prints_a_one_time_link(tmp_path: Path) -> None:
    env = {
        "COSOURCE_DATABASE_URL": f"sqlite://{tmp_path / 'cli.db'}",
        "COSOURCE_PUBLIC_URL": "https://ideas.acme.example",
    }
    assert run("migrate", env=env).returncode == 0
    assert run("tenant", "create", "Acme Coffee", "--slug", "acme", env=env).returncode == 0
    added = run(
        "console-user", "add", "boss@acme.example", "--tenant", "acme",
        "--password", "a long enough password", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "boss@acme.example is owner of 'Acme Coffee'" in added.stdout
    invited = run(
        "console-user", "invite", "Mod@Acme.example", "--tenant", "acme", "--role", "analyst",
        env=env,
    )  # fmt: skip
    assert invited.returncode == 0, invited.stderr
    assert "mod@acme.example is invited as analyst of 'Acme Coffee'" in invited.stdout
    link = re.search(
        r"https://ideas\.acme\.example/console/invite/([A-Za-z0-9_-]{40,})", invited.stdout
    )
    assert link, invited.stdout
    taken = run("console-user", "invite", "boss@acme.example", "--tenant", "acme", env=env)
    assert taken.returncode == 1 and "already has a console account" in taken.stderr
    unknown = run("console-user", "invite", "x@acme.example", "--tenant", "nope", env=env)
    assert unknown.returncode == 1 and "no brand with slug 'nope'" in unknown.stderr
    wrong = run(
        "console-user", "invite", "x@acme.example", "--tenant", "acme", "--role", "boss", env=env
    )
    assert wrong.returncode == 2 and "--role is owner, moderator or analyst" in wrong.stderr
