"""Code comments cite sections of docs/architecture.md by name: every cited section exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r'docs/architecture\.md, "([^"]+)"')


def _citations() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in ("api", "engine", "runtime", "webhooks", "scripts", "tests", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            # A citation may wrap across comment or docstring lines.
            text = re.sub(r"\s*\n\s*#?\s*", " ", path.read_text())
            for name in CITATION.findall(text):
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_cited_section_of_the_architecture_doc_exists() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    sections = set(re.findall(r"^#+ (.+)$", doc, flags=re.M))
    cited = _citations()
    assert cited, "no citation found: the pattern is wrong"
    missing = {name: paths for name, paths in cited.items() if name not in sections}
    assert missing == {}


def test_no_comment_cites_documents_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|STACK-NOTES|\.\./shared")
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("api", "engine", "runtime", "webhooks", "scripts", "tests", "bench")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "test_docs.py" and outside.search(path.read_text())
    ]
    assert offenders == []
