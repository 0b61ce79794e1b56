"""The layers hold: scripts/import_graph.py finds no forbidden arrow and no cycle in engine, and it
would find them (checked on small made-up trees)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts import import_graph


def test_the_repository_has_no_forbidden_arrow_and_no_engine_cycle() -> None:
    assert import_graph.check() == []


def test_the_script_exits_zero_on_this_repository() -> None:
    result = subprocess.run(
        [sys.executable, str(import_graph.ROOT / "scripts" / "import_graph.py")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name in import_graph.PACKAGES:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "__init__.py").touch()
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_it_reports_every_upward_arrow(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "engine/a.py": "from api import app\n",
            "engine/b.py": "def f():\n    import strawberry\n",  # a lazy import is an arrow too
            "engine/c.py": "from runtime.queue import JobQueue\n",
            "engine/d.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import webhooks.models\n"
            ),
            "engine/e.py": "import starlette.requests\n",
            "webhooks/x.py": "from runtime import redis_keys\n",
            "webhooks/y.py": "from api.view import GraphQLView\n",
            "runtime/z.py": "import api.app\n",
            "api/ok.py": "from runtime import jobs\nfrom webhooks import log\nfrom engine import db\n",
            "runtime/ok.py": "from webhooks import outbox\nfrom engine import events\n",
        },
    )
    problems = import_graph.check(root)
    culprits = sorted(p.split(":")[0] for p in problems)
    assert culprits == [
        "engine.a",
        "engine.b",
        "engine.c",
        "engine.d",
        "engine.e",
        "runtime.z",
        "webhooks.x",
        "webhooks.y",
    ]


def test_it_reports_a_cycle_inside_engine_lazy_or_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "engine/events.py": "def record():\n    from engine.consumers import wanted\n",
            "engine/consumers.py": "from engine.reputation import consume\n",
            "engine/reputation/__init__.py": "from engine.reputation.consumer import consume\n",
            "engine/reputation/consumer.py": "from engine import events\n",
            "engine/leaf.py": "from engine import events\n",
            # Type-only imports never run: no cycle.
            "engine/p.py": "from engine.q import Q\n",
            "engine/q.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.p import P\n",
        },
    )
    problems = import_graph.check(root)
    assert problems == [
        "import cycle in engine: engine.consumers <-> engine.events <-> engine.reputation"
        " <-> engine.reputation.consumer"
    ]
