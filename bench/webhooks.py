"""Webhook delivery benchmark: `python -m bench.webhooks` (needs PostgreSQL and Redis).

Prints, measured in one run:
- latency: over N threshold crossings (one vote each, paced), the time from the crossing vote's
  commit to the receiver's 2xx, with a warm `cosource worker` (p50, p90, p99, max), once it has
  finished the consumer jobs of the setup's events (it prints how long that took);
- throughput: one worker's deliveries per second over M queued deliveries, next to floors, bare
  httpx POST loops from one process to the same receiver (with the worker's concurrency, and
  sequential), as ratios; medians of alternating rounds. Deliveries are claimed in batches
  (webhooks.drain); one more round sends the same number as one `deliver` job each, the
  per-delivery path, and the worker's CPU per delivery is set against the sequential floor's.

Processes: the receiver (uvicorn, verifies every request with `standardwebhooks`) and this driver
are pinned to COSOURCE_BENCH_LOAD_CORE (1), the worker and the floor to COSOURCE_BENCH_SERVER_CORE
(0) with `taskset` when there are 2+ cores.
PostgreSQL and Redis are the machine's, unpinned. A fresh database is created and dropped.

Options: --crossings 300 --rate 20 --deliveries 2000 --rounds 3 --concurrency 50; env COSOURCE_BENCH_PG
(admin URL, see bench.harness), COSOURCE_BENCH_REDIS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import (
    LOAD_CORE,
    SERVER_CORE,
    create_database,
    drop_database,
    free_port,
    pg_url,
    pid_cpu_seconds,
)
from runtime import composition
from runtime.worker import MAX_JOBS

REDIS_URL = os.environ.get("COSOURCE_BENCH_REDIS", "redis://127.0.0.1:6379/0")
# The system under test (the worker) and the floor share one core; receiver and driver the other.
WORKER_CORE = int(SERVER_CORE)
DRIVER_CORE = int(LOAD_CORE)
ROOT = Path(__file__).resolve().parent.parent


# -- the receiver: a separate process, verifies like a brand's receiver, records arrival times ---


def receiver_app(secret: str) -> Any:
    from standardwebhooks.webhooks import Webhook

    verifier = Webhook(secret)
    arrivals: dict[str, list[float]] = {}
    failures = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal failures
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":  # the driver collects what arrived
            payload = orjson.dumps({"arrivals": arrivals, "failures": failures})
            arrivals.clear()
            failures = 0
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": payload})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            verifier.verify(body, headers)
            status = 200
        except Exception:
            failures += 1
            status = 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        # Stamped as the 2xx goes out.
        arrivals.setdefault(headers.get("webhook-id", "?"), []).append(time.time())

    return app


def run_receiver(port: int, secret: str) -> None:
    import uvicorn

    uvicorn.run(
        receiver_app(secret),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


# -- the floor: a bare httpx POST loop from one process ------------------------------------------


async def floor(
    url: str, secret: str, count: int, concurrency: int, body: bytes
) -> dict[str, float]:
    from webhooks import signing

    headers = signing.headers("evt_floor", int(time.time()), body, [secret])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    remaining = count
    # The worker's timeout, not httpx's default 5 s: on a busy machine a floor round must not fail.
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=15.0) as client:

        async def loop() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 200, response.status_code

        await asyncio.gather(*(loop() for _ in range(min(concurrency, 20))))  # warm up
        remaining = count
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return {"rate": count / elapsed, "cpu_ms": (time.process_time() - cpu) * 1000 / count}


# -- the driver -------------------------------------------------------------------------------


def _pin(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _run_floor(command: list[str], body: bytes) -> dict[str, float]:
    out = subprocess.run(command, cwd=ROOT, input=body, capture_output=True)
    if out.returncode:
        raise RuntimeError(f"the floor failed:\n{out.stderr.decode()[-3000:]}")
    return dict(json.loads(out.stdout))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far; the process must still run."""
    seconds = pid_cpu_seconds(pid)
    if seconds is None:
        raise RuntimeError(f"process {pid} is gone")
    return seconds


async def _wait_http(url: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def _collect(url: str) -> tuple[dict[str, list[float]], int]:
    async with httpx.AsyncClient(trust_env=False) as client:
        data = (await client.get(url)).json()
    return data["arrivals"], data["failures"]


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class CommitClock:
    """An event hook that stamps threshold events as their transaction commits."""

    def __init__(self) -> None:
        self.committed: dict[str, float] = {}

    async def before_commit(self, connection: Any, events: Any) -> None:
        return None

    async def after_commit(self, events: Any) -> None:
        now = time.time()
        for event in events:
            if event.type == "idea.threshold_reached":
                self.committed[event.public_id] = now


def main(argv: Sequence[str] = ()) -> None:
    """Entry point for `python -m bench` (no arguments) and `python -m bench.webhooks ...`."""
    asyncio.run(_main(argv))


async def _main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks")
    parser.add_argument("--crossings", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="crossings per second")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=MAX_JOBS)
    args = parser.parse_args(argv)

    db_name = await create_database()
    database_url = pg_url(db_name)
    prefix = f"cosource-bench-{secrets.token_hex(3)}"
    env = {
        "COSOURCE_DATABASE_URL": database_url,
        "COSOURCE_REDIS_URL": REDIS_URL,
        "COSOURCE_REDIS_PREFIX": prefix,
        "COSOURCE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "COSOURCE_DB_POOL_MAX": "20",
        # Sweeps would wake the batch path in the middle of the per-delivery-job round.
        "COSOURCE_SWEEP_INTERVAL_SECONDS": "60",
    }
    os.environ.update(env)
    processes: list[subprocess.Popen[bytes]] = []
    logs = Path(tempfile.mkdtemp(prefix="cosource-bench-"))
    try:
        await _run(args, env, processes, logs)
    finally:
        from engine import db

        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        await db.close_db()
        await drop_database(db_name)
        shutil.rmtree(logs, ignore_errors=True)


async def _run(
    args: argparse.Namespace,
    env: dict[str, str],
    processes: list[subprocess.Popen[bytes]],
    logs: Path,
) -> None:
    from engine import db, events, votes
    from engine.clock import utcnow
    from engine.models import DomainEvent, ThresholdMetric
    from engine.settings import reset_settings
    from engine.tenancy import enter_tenant
    from engine.tenants import create_tenant
    from engine.thresholds import ThresholdSpec
    from engine.votes import VoteValue
    from runtime import redis_keys
    from runtime.background import start_background
    from tests import factories
    from webhooks import payload
    from webhooks.endpoints import EndpointInput, create_endpoint
    from webhooks.models import WebhookDelivery
    from webhooks.outbox import OutboxHooks

    reset_settings()
    if _pin(DRIVER_CORE):
        os.sched_setaffinity(0, {DRIVER_CORE})  # the driver shares its core with the receiver
    await composition.migrate(env["COSOURCE_DATABASE_URL"])
    await db.close_db()
    await composition.init_db(env["COSOURCE_DATABASE_URL"])
    brand = await create_tenant(f"Bench {secrets.token_hex(3)}")
    enter_tenant(brand.tenant.id)

    port = free_port()
    # The endpoint first (its secret is generated here), then the receiver that verifies it.
    endpoint_url = f"http://127.0.0.1:{port}/hook"
    created = await create_endpoint(
        EndpointInput(url=endpoint_url, event_types=("idea.threshold_reached",))
    )
    python = sys.executable
    receiver = _spawn(
        [
            *_pin(DRIVER_CORE),
            python,
            "-c",
            f"from bench.webhooks import run_receiver; run_receiver({port}, {created.secret!r})",
        ],
        logs / "receiver.log",
    )
    processes.append(receiver)
    stats_url = f"http://127.0.0.1:{port}/stats"
    await _wait_http(stats_url)

    cosource = str(Path(python).with_name("cosource"))
    worker = _spawn([*_pin(WORKER_CORE), cosource, "worker"], logs / "worker.log")
    processes.append(worker)
    background = await start_background()
    clock = CommitClock()
    # Stamp first, then the process hooks without cache generations (as before: none to bump).
    events.install_hooks(clock, *composition.process_hooks(background.queue))
    assert background.redis is not None
    deadline = time.monotonic() + 30
    while not await background.redis.exists(f"{redis_keys.queue_name()}:health-check"):
        if time.monotonic() > deadline or worker.poll() is not None:
            raise RuntimeError((logs / "worker.log").read_text()[-3000:])
        await asyncio.sleep(0.05)

    # Setup (not measured): ideas one vote away from their threshold, and their voters.
    campaign = await factories.campaign(
        thresholds=(ThresholdSpec(ThresholdMetric.NET_VOTES, 1, name="pre-order"),)
    )
    author = await factories.member()
    total = args.crossings + 20
    ideas = [await factories.idea(author, campaign) for _ in range(total)]
    voters = await factories.members(total)
    # The setup's events (ideas, members) keep the worker's consumers busy for seconds (on a
    # busy machine tens of seconds): a warm worker is one that has finished them.
    settle = await _settle(background.redis, redis_keys.queue_name())
    await asyncio.sleep(1.0)
    await _collect(stats_url)  # forget setup traffic

    # Warm-up: 20 crossings, not counted.
    for idea, voter in zip(ideas[:20], voters[:20], strict=True):
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    await _collect(stats_url)
    clock.committed.clear()

    # Latency: paced crossings, one vote each.
    interval = 1.0 / args.rate
    started = time.perf_counter()
    for n, (idea, voter) in enumerate(zip(ideas[20:], voters[20:], strict=True)):
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
        await asyncio.sleep(max(0.0, started + (n + 1) * interval - time.perf_counter()))
    await asyncio.sleep(1.0)
    arrivals, failures = await _collect(stats_url)
    latencies = [
        (arrivals[event_id][0] - committed) * 1000
        for event_id, committed in clock.committed.items()
        if event_id in arrivals
    ]
    missing = len(clock.committed) - len(latencies)
    duplicates = sum(len(times) - 1 for times in arrivals.values())

    # Throughput: many deliveries queued at once (one transaction, the outbox path), one worker,
    # next to bare httpx POST loops; rounds alternate so a busy machine hurts both alike.
    sample = (await DomainEvent.get(public_id=next(iter(clock.committed)))).data
    supporter = sample["supporters"][0]
    data = {
        **sample,
        "supporters": [
            {**supporter, "externalId": f"cus_{n}", "email": f"c{n}@example.com"} for n in range(30)
        ],
    }  # a crossing with 30 supporters: a realistic body
    # The outbox without the consumers' job: throughput counts delivery work only.
    events.install_hooks(OutboxHooks(background.queue))
    floor_body = payload.render("idea.threshold_reached", utcnow(), data, include_emails=False)
    rounds: dict[str, list[float]] = {"worker": [], "floor": [], "floor1": []}
    cpu_ms: dict[str, list[float]] = {"worker": [], "receiver": [], "floor": [], "floor1": []}
    for _ in range(args.rounds):
        cpu_before = {p.pid: _cpu_seconds(p.pid) for p in (worker, receiver)}
        async with events.unit_of_work():
            for _ in range(args.deliveries):
                await events.record("idea.threshold_reached", data)
        seen: list[float] = []
        deadline = time.monotonic() + 300
        while len(seen) < args.deliveries and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            got, bad = await _collect(stats_url)
            failures += bad
            seen.extend(t for times in got.values() for t in times)
        seen.sort()
        rounds["worker"].append((len(seen) - 1) / (seen[-1] - seen[0]))
        cpu_ms["worker"].append(
            (_cpu_seconds(worker.pid) - cpu_before[worker.pid]) * 1000 / len(seen)
        )
        cpu_ms["receiver"].append(
            (_cpu_seconds(receiver.pid) - cpu_before[receiver.pid]) * 1000 / len(seen)
        )
        for key, concurrency in (("floor", args.concurrency), ("floor1", 1)):
            result = _run_floor(
                [
                    *_pin(WORKER_CORE),
                    python,
                    "-c",
                    "import asyncio, json, sys; from bench.webhooks import floor; "
                    f"print(json.dumps(asyncio.run(floor({endpoint_url!r}, {created.secret!r}, "
                    f"{args.deliveries}, {concurrency}, sys.stdin.buffer.read()))))",
                ],
                floor_body,
            )
            rounds[key].append(result["rate"])
            cpu_ms[key].append(result["cpu_ms"])
            await _collect(stats_url)
    # The same work as one `deliver` job per delivery (the path explicit retries take, and what
    # the outbox enqueued before deliveries were claimed in batches), for comparison.
    events.install_hooks(OutboxHooks(_Nowhere()))
    cpu_before = {worker.pid: _cpu_seconds(worker.pid)}
    async with events.unit_of_work():
        recorded = [
            await events.record("idea.threshold_reached", data) for _ in range(args.deliveries)
        ]
    ids = await WebhookDelivery.filter(event_id__in=[e.id for e in recorded]).values_list(
        "id", flat=True
    )
    for delivery_id in ids:
        await background.queue.enqueue("deliver", delivery_id)
    seen = []
    deadline = time.monotonic() + 300
    while len(seen) < args.deliveries and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        got, bad = await _collect(stats_url)
        failures += bad
        seen.extend(t for times in got.values() for t in times)
    seen.sort()
    per_job_rate = (len(seen) - 1) / (seen[-1] - seen[0])
    per_job_cpu = (_cpu_seconds(worker.pid) - cpu_before[worker.pid]) * 1000 / len(seen)
    await background.close()
    worker_rate = statistics.median(rounds["worker"])
    floor_rate = statistics.median(rounds["floor"])
    floor1_rate = statistics.median(rounds["floor1"])
    body_size = len(floor_body)

    print(f"webhook delivery bench ({os.cpu_count()} cores; pinned: {bool(_pin(WORKER_CORE))})")
    print(f"  the worker finished the setup's consumer jobs {settle:.1f} s after the setup")
    print(
        f"latency, commit of the crossing vote -> receiver's 2xx, {len(latencies)} crossings "
        f"at {args.rate:g}/s, warm worker:"
    )
    print(
        f"  p50 {statistics.median(latencies):.1f} ms   p90 {_percentile(latencies, 90):.1f} ms"
        f"   p99 {_percentile(latencies, 99):.1f} ms   max {max(latencies):.1f} ms"
        f"   (goal p99 < 250 ms: {'met' if _percentile(latencies, 99) < 250 else 'NOT met'})"
    )
    print(f"  missing {missing}, duplicates {duplicates}, failed verifications {failures}")
    print(
        f"throughput, {args.rounds} rounds of {args.deliveries} deliveries of {body_size} B "
        f"(medians):"
    )
    print(
        f"  one worker (max_jobs {MAX_JOBS})          {worker_rate:6.0f}/s"
        f"   CPU {statistics.median(cpu_ms['worker']):.2f} ms/delivery in the worker process"
        " (PostgreSQL and Redis not counted)"
    )
    print(
        f"  floor: httpx loop, {args.concurrency} concurrent  {floor_rate:6.0f}/s"
        f"   CPU {statistics.median(cpu_ms['floor']):.2f} ms/request"
    )
    print(
        f"  floor: httpx loop, sequential      {floor1_rate:6.0f}/s"
        f"   CPU {statistics.median(cpu_ms['floor1']):.2f} ms/request"
    )
    print(
        f"  one worker, one deliver job each     {per_job_rate:6.0f}/s   CPU {per_job_cpu:.2f}"
        " ms/delivery (one round)"
    )
    print(f"  receiver CPU {statistics.median(cpu_ms['receiver']):.2f} ms/request")
    for label, rate in (("same concurrency", floor_rate), ("sequential", floor1_rate)):
        ratio = worker_rate / rate if rate else 0.0
        verdict = "met" if ratio >= 0.5 else "NOT met"
        print(f"  ratio worker / floor ({label}): {ratio:.2f}   (goal >= 0.5: {verdict})")
    cpu_ratio = statistics.median(cpu_ms["worker"]) / statistics.median(cpu_ms["floor1"])
    print(f"  CPU per delivery, worker / sequential floor: {cpu_ratio:.2f}x")
    print(f"  batch claims vs one job per delivery: {worker_rate / per_job_rate:.2f}x the rate")
    print(
        f"  rounds: worker {_rates(rounds['worker'])}, floor {_rates(rounds['floor'])}, "
        f"sequential {_rates(rounds['floor1'])}"
    )


async def _settle(redis: Any, queue: str, within: float = 300) -> float:
    """Seconds until every setup event is processed and the job queue holds only crons."""
    from engine.models import DomainEvent

    started = time.monotonic()
    while time.monotonic() - started < within:
        unprocessed = await DomainEvent.unscoped().filter(processed_at=None).count()
        jobs = [j for j in await redis.zrange(queue, 0, -1) if b":cron:" not in j]
        if not unprocessed and not jobs:
            break
        await asyncio.sleep(0.2)
    return time.monotonic() - started


class _Nowhere:
    """A queue that drops every job: the round enqueues its own."""

    async def enqueue(self, function: str, *args: Any, **options: Any) -> bool:
        return True


def _rates(values: list[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    main(sys.argv[1:])
