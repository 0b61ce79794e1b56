"""`python -m bench [NAME ...] [OPTIONS]` (make bench): run bench modules in turn (all of them with
no name); each prints its own ratios. Options after one name go to that bench, for the benches
that take any (`python -m bench webhooks --rounds 1`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys

import bench

SKIP = {"__main__", "harness", "floor", "dataset"}
# Short names for modules whose natural name is a Python keyword.
ALIASES = {"import": "member_import"}


def _usage(names: list[str]) -> str:
    shown = ", ".join(sorted({*names, *ALIASES} - set(ALIASES.values())))
    return (
        "usage: python -m bench [NAME ...] [OPTIONS]\n"
        f"benches: {shown}\n"
        "options after one name go to that bench: python -m bench webhooks --help"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in SKIP)
    if args[:1] in (["-h"], ["--help"]):
        print(_usage(names))
        return 0
    wanted: list[str] = []
    while args and not args[0].startswith("-"):
        name = ALIASES.get(args[0], args[0])
        if name not in names:
            print(f"unknown bench {args[0]!r}\n{_usage(names)}", file=sys.stderr)
            return 2
        wanted.append(name)
        args = args[1:]
    if args and len(wanted) != 1:
        print(f"options go with exactly one bench name\n{_usage(names)}", file=sys.stderr)
        return 2
    for name in wanted or names:
        module = importlib.import_module(f"bench.{name}")
        takes_options = bool(inspect.signature(module.main).parameters)
        if args and not takes_options:
            print(f"bench {name!r} takes no options", file=sys.stderr)
            return 2
        print(f"\n=== bench.{name} ===", flush=True)
        if takes_options:
            module.main(args)
        else:
            module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
