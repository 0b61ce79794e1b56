"""`cosource worker` stops on SIGTERM, on SQLite as on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import pytest

from tests.processes import SHARED_REDIS_URL, WorkerProcess, _cosource_command, redis_reachable


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
