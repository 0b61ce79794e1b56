"""`python -m bench` (make bench): run every bench module in turn; each prints its own ratios."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench

SKIP = {"harness", "floor", "dataset"}
# Short names for modules whose natural name is a Python keyword.
ALIASES = {"import": "member_import"}


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in SKIP)
    wanted = [ALIASES.get(n, n) for n in sys.argv[1:]] or names
    for name in wanted:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== bench.{name} ===", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
