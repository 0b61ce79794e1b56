"""Shared bench plumbing: a throwaway PostgreSQL database, servers pinned to a core, wrk runs."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from engine import db

# Secrets are sealed at rest and PostgreSQL needs a key: the bench (and the servers it starts)
# share a throwaway one unless one is set.
os.environ.setdefault("COSOURCE_SECRET_KEY", Fernet.generate_key().decode())
PG_ADMIN = os.environ.get("COSOURCE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
SERVER_CORE = os.environ.get("COSOURCE_BENCH_SERVER_CORE", "0")
LOAD_CORE = os.environ.get("COSOURCE_BENCH_LOAD_CORE", "1")
# Unmeasured seconds of the same load before each measurement, so a JIT (PostGraphile's Node), the
# pools and caches of every server measured start warm alike.
WARM_UP_SECONDS = int(os.environ.get("COSOURCE_BENCH_WARM_UP_SECONDS", "3"))

# The member columns every bench seeds by COPY, in this order (dataset, member_import, reputation).
MEMBER_COLUMNS = (
    "tenant_id",
    "external_id",
    "display_name",
    "email",
    "verified",
    "tier",
    "customer_value_cents",
    "reputation",
    "level",
    "created_at",
    "updated_at",
)


def pg_url(name: str) -> str:
    return db.sibling_url(PG_ADMIN, name)


async def create_database() -> str:
    name = f"cosource_bench_{secrets.token_hex(4)}"
    await db.create_postgres_database(PG_ADMIN, name)
    return name


async def drop_database(name: str) -> None:
    await db.drop_postgres_database(PG_ADMIN, name)


@contextlib.asynccontextmanager
async def migrated_database() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database, migrated and connected in this process; dropped after."""
    from tortoise import Tortoise

    from runtime import composition

    name = await create_database()
    url = pg_url(name)
    try:
        await composition.migrate(url)
        await Tortoise.close_connections()
        await composition.init_db(url)
        yield url
    finally:
        await Tortoise.close_connections()
        await drop_database(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pinned(cmd: list[str], core: str) -> list[str]:
    return (["taskset", "-c", core] if shutil.which("taskset") else []) + cmd


@contextlib.contextmanager
def server(
    app: str, env: dict[str, str], *, factory: bool = True, workers: int = 1
) -> Iterator[str]:
    """Run `uvicorn app` on the server core (several worker processes on every core but the load
    generator's, when ``workers`` > 1); yields the base URL once /healthz answers."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if factory:
        cmd.append("--factory")
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with process(cmd, env, port, "/healthz", core=SERVER_CORE if workers == 1 else None) as base:
        yield base


# The process behind each base URL a context manager below yields (for peak_rss_mb).
PIDS: dict[str, int] = {}


def peak_rss_mb(base: str) -> float | None:
    """Peak resident memory (VmHWM) of the server process behind ``base``, in MB."""
    pid = PIDS.get(base)
    try:
        status = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@contextlib.contextmanager
def process(
    cmd: list[str],
    env: dict[str, str],
    port: int,
    ready_path: str,
    *,
    core: str | None = SERVER_CORE,
) -> Iterator[str]:
    """Any HTTP server on the server core (or unpinned: ``core=None``); ready once
    ``ready_path`` answers below 500."""
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(
        _pinned(cmd, core) if core is not None else cmd,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}{ready_path}", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[0]} did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.2)
        PIDS[base] = child.pid  # taskset execs the command: the same process
        yield base
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    # Timeouts and other socket errors (wrk leaves them out of the latencies, so they are shown).
    socket_errors: int = 0
    # Printed by a script's done() as "body errors: N" (e.g. GraphQL errors inside HTTP 200s).
    body_errors: int = 0
    # The server process's CPU time per request (user + system), when the run named its server.
    cpu_us: float | None = None


def cpu_seconds(base: str) -> float | None:
    """User + system CPU time so far of the server process behind ``base``."""
    pid = PIDS.get(base)
    return pid_cpu_seconds(pid) if pid else None


def pid_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time so far of process ``pid`` (Linux /proc); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if len(fields) < 13:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str],
    seconds: int = 8,
    connections: int = 16,
    server: str | None = None,
) -> WrkResult:
    """``server``: the base URL of the process answering (see ``wrk_script``). The same load
    runs unmeasured for ``WARM_UP_SECONDS`` first."""
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = [[{body}]]")
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lua = "\n".join(lines) + "\n"
    if WARM_UP_SECONDS > 0:
        wrk_script(url, lua, seconds=WARM_UP_SECONDS, connections=connections)
    return wrk_script(url, lua, seconds=seconds, connections=connections, server=server)


def wrk_script(
    url: str, lua: str, *, seconds: int = 8, connections: int = 16, server: str | None = None
) -> WrkResult:
    """wrk with a Lua script of one's own (e.g. a ``request()`` that varies every request).

    With ``server`` (a base URL a context manager here yielded), the result carries that
    process's CPU time per request: unlike throughput, it barely moves when other processes
    share the cores."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    cpu_before = cpu_seconds(server) if server else None
    out = subprocess.run(
        _pinned(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            LOAD_CORE,
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    body = re.search(r"^body errors: (\d+)", out, re.M)
    cpu_us = None
    cpu_after = cpu_seconds(server) if server else None
    served = re.search(r"^\s+(\d+) requests in", out, re.M)
    if cpu_before is not None and cpu_after is not None and served and int(served.group(1)):
        cpu_us = (cpu_after - cpu_before) / int(served.group(1)) * 1e6
    return WrkResult(
        rps,
        p50,
        p99,
        int(bad.group(1)) if bad else 0,
        sum(int(n) for n in sockets.groups()) if sockets else 0,
        int(body.group(1)) if body else 0,
        cpu_us,
    )


def ratio_row(name: str, result: WrkResult, floor: WrkResult) -> str:
    """Throughput as a share of the floor's, latency as a multiple of the floor's; with both
    servers' CPU per request, the floor's as a share of this one's ("cpu": what the throughput
    ratio would be were both CPU bound alone on their core, steadier on a shared machine)."""
    line = (
        f"  {name:<46} throughput {result.requests_per_second / floor.requests_per_second:5.2f}x"
        f"   p50 {result.p50_ms / floor.p50_ms:5.2f}x   p99 {result.p99_ms / floor.p99_ms:5.2f}x"
    )
    if result.cpu_us and floor.cpu_us:
        line += f"   cpu {floor.cpu_us / result.cpu_us:5.2f}x"
    problems = [
        f"{count} {what}!"
        for count, what in [
            (result.non_2xx, "non-2xx"),
            (result.socket_errors, "socket errors"),
            (result.body_errors, "errors in bodies"),
        ]
        if count
    ]
    return line + (f"   ({', '.join(problems)})" if problems else "")
