"""CPU seconds per process kind over a load run (Linux ``/proc``), printed by the load tests.

Everything shares the machine's cores, so the CPU each process spends per request is what bounds
throughput and queueing: the API processes, the worker, the PostgreSQL backends serving the test's
database, Redis (shared with whoever else uses it) and the load generator itself. A snapshot reads
``utime + stime`` of each process; a backend that connects during the run counts from zero, one
that exits before the end is missed (the pools keep theirs open). Nothing here is asserted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == parent:
                found.append(int(entry.name))
    return found


def _kind(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if "uvicorn" in command:
        return "api"
    return "worker" if "worker" in command else "other"


@dataclass
class CpuSplit:
    """``start()`` before the load and ``stop()`` after it; ``backends`` and ``redis`` are pids
    read from PostgreSQL (``pg_stat_activity`` of the test's database) and Redis (``INFO``)."""

    _start: dict[tuple[str, int], float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def _snapshot(self, backends: list[int], redis: int | None) -> dict[tuple[str, int], float]:
        pids = [("load", os.getpid())]
        pids += [(_kind(pid), pid) for pid in _children(os.getpid())]
        pids += [("postgres", pid) for pid in backends]
        if redis:
            pids.append(("redis", redis))
        taken = {key: _cpu_seconds(key[1]) for key in pids}
        return {key: value for key, value in taken.items() if value is not None}

    def start(self, backends: list[int], redis: int | None) -> None:
        self._start = self._snapshot(backends, redis)

    def stop(self, backends: list[int], redis: int | None) -> None:
        for key, value in self._snapshot(backends, redis).items():
            kind = key[0]
            self.seconds[kind] = self.seconds.get(kind, 0.0) + value - self._start.get(key, 0.0)

    def per_request(self, requests: int) -> str:
        """``api 4.1 ms, worker 0.9 ms, ...`` of CPU per request, largest first."""
        parts = [
            f"{kind} {seconds * 1000 / max(1, requests):.2f} ms"
            for kind, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])
            if kind != "other"
        ]
        return ", ".join(parts)
