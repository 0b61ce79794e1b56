"""`cosource worker` stops on SIGTERM, on SQLite as on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import func

from runtime.compat import ResilientWorker
from tests.processes import SHARED_REDIS_URL, WorkerProcess, _cosource_command, redis_reachable
from webhooks.delivery import deliver


@pytest.mark.redis
async def test_an_idle_worker_on_sqlite_exits_on_sigterm(tmp_path: Path) -> None:
    """arq runs on_shutdown in a task of its own: closing the database there, in a context that
    holds none of the startup's connections, left the SQLite connection (and its thread) open,
    and the process never exited after SIGTERM (runtime.worker keeps the startup's context)."""
    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    prefix = f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}"
    env = {
        "COSOURCE_DATABASE_URL": f"sqlite://{tmp_path / 'worker.sqlite3'}",
        "COSOURCE_REDIS_URL": SHARED_REDIS_URL,
        "COSOURCE_REDIS_PREFIX": prefix,
    }
    migrate = await asyncio.create_subprocess_exec(
        *_cosource_command(),
        "migrate",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await asyncio.wait_for(migrate.communicate(), 120)
    assert migrate.returncode == 0, errors.decode()
    worker = WorkerProcess(env, tmp_path).start()
    try:
        await worker.wait_ready(SHARED_REDIS_URL, f"{prefix}:queue")  # redis_keys.queue_name()
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        for _ in range(150):
            code = worker.process.poll()
            if code is not None:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"the worker did not exit within 15 s of SIGTERM:\n{worker.output()}")
        assert code == 0, worker.output()
    finally:
        worker.kill()


@pytest.mark.redis
# arq 0.28 closes its pool with redis-py's deprecated close(): its concern, not this test's.
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_shutdown_runs_when_a_job_was_cancelled_by_the_signal() -> None:
    """arq's close gathers the job tasks its signal handler has just cancelled, without
    return_exceptions: a job running at SIGTERM (a cron job at the minute) raised CancelledError
    there, on_shutdown never ran, and a SQLite worker's database thread kept the process alive."""
    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    shut: list[bool] = []

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        shut.append(True)

    worker = ResilientWorker(
        functions=[func(deliver, name="deliver")],
        redis_settings=RedisSettings.from_dsn(SHARED_REDIS_URL),
        handle_signals=False,
        on_shutdown=on_shutdown,
        health_check_key=f"cosource-test-{secrets.token_hex(4)}:health",
    )
    worker._pool = await create_pool(RedisSettings.from_dsn(SHARED_REDIS_URL))
    worker.tasks["running"] = asyncio.create_task(asyncio.sleep(10))  # a job at SIGTERM
    worker.handle_sig(signal.SIGTERM)  # what the signal runs: cancels the running jobs
    await worker.close()
    assert shut == [True]
