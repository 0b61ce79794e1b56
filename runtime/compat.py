"""Every override of a dependency's private API, in one place, applied explicitly at start-up.

Two libraries are extended below their public surface, each for a reason a test shows:

- Tortoise ORM 1.1.9: entering a transaction is made safe to cancel on SQLite and PostgreSQL
  (:func:`harden_tortoise_transactions`; tests/engine/test_db.py). Without it one cancelled
  request or job freezes the embedded default, or leaks a pooled PostgreSQL connection. Its
  pooled wrappers (``TransactionContextPooled``, ``PoolConnectionWrapper``) and
  ``AsyncpgDBClient.execute_query[_dict]`` are overridden so a connection a restart broke is
  terminated, never pooled, and a BEGIN or a read on one is retried once
  (:func:`harden_tortoise_pool`; tests/engine/test_db.py and the fault load test). The member
  actions' statements skip its query layer inside a PostgreSQL transaction and run on the
  ``TransactionWrapper``'s asyncpg connection, under its lock, with its log line and exception
  mapping (:func:`run_in_transaction`, installed as ``engine.sql.rows``;
  tests/runtime/test_compat.py).
- arq 0.28.0: :class:`ResilientWorker` overrides ``_poll_iteration`` and
  ``_release_sem_dec_counter_on_complete`` and reads ``job_counter``, ``sem``, ``tasks`` and
  ``pool`` (tests/webhooks/test_worker.py): workers woken by enqueues instead of polling, and
  riding out Redis outages. :func:`enqueue_new_job` writes a job under a fresh id as
  ``ArqRedis.enqueue_job`` writes it (its key, expiry, serialized body and queue score), with
  the workers' wake-up, in one round trip instead of four (tests/webhooks/test_worker.py);
  :func:`add_job_unless_pending` writes the same job only while a marker key is unset.

These touch internals that change without notice, so they were written for exact versions:
:func:`apply` (called by the composition root before any connection, ``runtime.composition``) and
the worker's constructor check them and raise :class:`IncompatibleVersion` otherwise. After an
upgrade, re-read the overridden code, re-run the tests named above, then bump :data:`PINNED`
(docs/architecture.md, "Private-API overrides").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis import exceptions as redis_errors
from redis.asyncio.client import Pipeline
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import PoolConnectionWrapper, TransactionContextPooled
from tortoise.backends.sqlite.client import SqliteTransactionContext
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from engine import sql
from engine.db import is_broken_connection
from runtime import redis_keys

log = logging.getLogger(__name__)

# The distributions whose internals this module relies on, and the versions it was written for.
PINNED: dict[str, str] = {"arq": "0.28.0", "tortoise-orm": "1.1.9"}


class IncompatibleVersion(RuntimeError):
    """An installed dependency is not the version this module's overrides were written for."""


def check_versions(installed: Callable[[str], str] | None = None) -> None:
    """Raise unless every distribution in :data:`PINNED` is installed at exactly its version."""
    lookup = installed or version
    wrong = {name: found for name, wanted in PINNED.items() if (found := lookup(name)) != wanted}
    if wrong:
        listed = ", ".join(f"{n} {found} (written for {PINNED[n]})" for n, found in wrong.items())
        raise IncompatibleVersion(
            f"runtime.compat overrides private APIs of {listed}: re-check them against the "
            "installed version, then update runtime.compat.PINNED"
        )


def apply() -> None:
    """Check the versions, then patch Tortoise (idempotent). Every process calls this at start-up,
    through ``runtime.composition``, before its first connection."""
    check_versions()
    harden_tortoise_transactions()
    harden_tortoise_pool()
    sql.install_rows(run_in_transaction)


async def enqueue_new_job(
    redis: ArqRedis, function: str, args: tuple[Any, ...], queue_name: str, wake: str | None
) -> None:
    """arq 0.28.0's ``enqueue_job(function, *args)`` with no job id, defer or expiry, plus a
    wake-up published on ``wake``: one MULTI/EXEC instead of WATCH, EXISTS, MULTI/EXEC and
    PUBLISH (see :func:`add_new_job`). Raises on a Redis failure, as ``enqueue_job`` does."""
    async with redis.pipeline(transaction=True) as pipe:
        add_new_job(pipe, redis, function, args, queue_name, wake)
        await pipe.execute()


def add_new_job(
    pipe: Pipeline,
    redis: ArqRedis,
    function: str,
    args: tuple[Any, ...],
    queue_name: str,
    wake: str | None,
) -> None:
    """Queue on ``pipe`` (a MULTI/EXEC pipeline of ``redis``) the commands that enqueue a new job
    as arq 0.28.0's ``enqueue_job(function, *args)`` writes it, and the wake-up on ``wake``.
    ``enqueue_job`` watches the job's key and checks that neither it nor a result exists only
    because a caller's ``_job_id`` may be taken; a fresh uuid4 (what it draws itself when none is
    given) cannot be. The job is then written exactly as it writes it: the key, the serialized
    body (its default serializer), an expiry of ``expires_extra_ms`` past now and the queue score
    of now. The after-commit flush (``runtime.coalesce.PipelinedHooks``) adds its other commands
    to the same pipeline."""
    job_id = uuid.uuid4().hex
    now = timestamp_ms()
    body = serialize_job(function, args, {}, None, now, serializer=redis.job_serializer)
    pipe.psetex(job_key_prefix + job_id, redis.expires_extra_ms, body)
    pipe.zadd(queue_name, {job_id: now})
    if wake:
        pipe.publish(wake, b"1")


# SET marker NX, and only if that set it: the job's key and queue entry, and the wake-up.
_JOB_UNLESS_PENDING = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('PSETEX', KEYS[2], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
  if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], '1') end
  return 1
end
return 0
"""


def add_job_unless_pending(
    pipe: Pipeline,
    redis: ArqRedis,
    function: str,
    queue_name: str,
    wake: str | None,
    marker: str,
    marker_ms: int,
) -> None:
    """Queue on ``pipe`` one script that enqueues ``function()`` (no arguments) exactly as
    :func:`add_new_job` does, with the wake-up, only when it sets ``marker`` (``SET NX``, expiring
    after ``marker_ms``); while the marker is set, it does nothing. Whoever answers the job
    deletes the marker before looking for work (runtime.consumer_loop), so a commit finding it set
    is covered by the job that set it. The script runs atomically, also inside the flush's
    MULTI/EXEC."""
    job_id = uuid.uuid4().hex
    now = timestamp_ms()
    body = serialize_job(function, (), {}, None, now, serializer=redis.job_serializer)
    pipe.eval(
        _JOB_UNLESS_PENDING,
        3,
        marker,
        job_key_prefix + job_id,
        queue_name,
        str(marker_ms),
        str(redis.expires_extra_ms),
        body,  # type: ignore[arg-type]  # bytes are sent as they are
        str(now),
        job_id,
        wake or "",
    )


def harden_tortoise_transactions() -> None:
    """Make entering a transaction safe to cancel (SQLite and PostgreSQL).

    Tortoise's SqliteTransactionContext takes its lock, then awaits the connection and BEGIN; a task
    cancelled in between never reaches __aexit__, so the lock stays taken and every later query
    waits forever (the embedded default would freeze after one cancelled request or job). Here the
    lock is given back on any failure, and BEGIN, which aiosqlite runs on its own thread whatever
    happens to the caller, is awaited to its end and rolled back before a cancellation goes on.
    """
    if getattr(SqliteTransactionContext.__aenter__, "_cosource_hardened", False):
        return

    async def enter(self: SqliteTransactionContext) -> Any:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            begin = asyncio.ensure_future(self.connection.begin())
            try:
                await asyncio.shield(begin)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await begin
                    await self.connection.rollback()
                raise
        except BaseException:
            self._trxlock.release()
            raise
        self.token = get_connections().set(self.connection_name, self.connection)
        return self.connection

    enter._cosource_hardened = True  # type: ignore[attr-defined]
    SqliteTransactionContext.__aenter__ = enter  # type: ignore[method-assign]


def _discard_if_broken(connection: Any, error: BaseException | None) -> None:
    """Terminate a connection whose last use failed below the statement (the server went away,
    the protocol was left mid-exchange): asyncpg's release then frees its pool slot, and the next
    acquire opens a fresh connection instead of handing this one out again.

    A statement the server refused (a unique violation, a deadlock), a value asyncpg could not
    encode and a domain error raised inside a transaction leave the connection idle and usable; a
    cancelled task is left to asyncpg, which waits for the server to confirm the cancellation
    before pooling the connection."""
    if error is None or not isinstance(connection, asyncpg.Connection):
        return
    misused = isinstance(error, asyncpg.exceptions.InterfaceError) and not isinstance(
        error, asyncpg.exceptions.DataError
    )
    if is_broken_connection(error) or misused:
        connection.terminate()


def _is_read(query: str) -> bool:
    return query.lstrip()[:6].upper() == "SELECT"


def harden_tortoise_pool() -> None:
    """PostgreSQL: a connection broken by a restart or failover is never handed out again, and
    what had not yet run is retried once on a fresh connection (docs/architecture.md, "Database
    outages").

    ``engine.db.PooledConnection`` skips asyncpg's session reset on release (one round trip per
    statement saved), and that reset was also what found a connection left mid-exchange: its
    failure made asyncpg terminate the connection. Here Tortoise's pooled wrappers, which see the
    exception that ended each use, terminate such a connection before releasing it. Entering a
    transaction whose BEGIN fails on a broken connection, and a plain SELECT outside a
    transaction, are retried once: neither has changed anything yet.
    """
    if getattr(TransactionContextPooled.__aenter__, "_cosource_hardened", False):
        return
    pooled_enter = TransactionContextPooled.__aenter__

    async def enter_pooled(self: TransactionContextPooled) -> Any:
        for attempt in (1, 2):
            try:
                return await pooled_enter(self)
            except BaseException as error:
                # Taken, then BEGIN failed or the task was cancelled there: give it back (a
                # cancelled task would otherwise keep it forever), or drop it if it is broken.
                connection = getattr(self.client, "_connection", None)
                pool = self.client._parent._pool
                taken = connection is not None and pool is not None
                if taken:
                    token = getattr(self, "token", None)
                    if token is not None:
                        get_connections().reset(token)
                        del self.token  # a retry sets its own
                    self.client._connection = None
                    _discard_if_broken(connection, error)
                    with contextlib.suppress(Exception):
                        await pool.release(connection)
                # Only a connection taken broken is worth a second try: a refused connect
                # would be refused again, and the caller answers SERVICE_UNAVAILABLE.
                if attempt == 2 or not taken or not isinstance(error, Exception):
                    raise
                if not is_broken_connection(error):
                    raise
                log.info("BEGIN on a broken pooled connection (%s); retrying on a new one", error)
        raise AssertionError("unreachable")  # pragma: no cover

    async def exit_pooled(
        self: TransactionContextPooled, exc_type: Any, exc_val: Any, exc_tb: Any
    ) -> None:
        # Tortoise 1.1.9's __aexit__, plus: a connection that failed below the statement (in the
        # block, or at COMMIT or ROLLBACK) is terminated rather than pooled.
        client = self.client
        connection = client._connection
        failure: BaseException | None = exc_val
        try:
            if not client._finalized:
                if exc_type:
                    if exc_type is not TransactionManagementError:
                        await client.rollback()
                else:
                    await client.commit()
        except BaseException as error:
            failure = error
            raise
        finally:
            pool = client._parent._pool
            if pool is not None:
                _discard_if_broken(connection, failure)
                await pool.release(connection)
            get_connections().reset(self.token)

    async def exit_plain(
        self: PoolConnectionWrapper[Any], exc_type: Any, exc_val: Any, _: Any
    ) -> None:
        _discard_if_broken(self.connection, exc_val)
        await self.client._pool.release(self.connection)

    def retry_reads(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def run(self: AsyncpgDBClient, query: str, values: list[Any] | None = None) -> Any:
            try:
                return await method(self, query, values)
            except Exception as error:
                in_transaction = isinstance(self, TransactionWrapper)
                if in_transaction or not _is_read(query) or not is_broken_connection(error):
                    raise
                log.info("read on a broken pooled connection (%s); retrying once", error)
                return await method(self, query, values)

        return run

    enter_pooled._cosource_hardened = True  # type: ignore[attr-defined]
    TransactionContextPooled.__aenter__ = enter_pooled  # type: ignore[method-assign]
    TransactionContextPooled.__aexit__ = exit_pooled  # type: ignore[method-assign]
    PoolConnectionWrapper.__aexit__ = exit_plain  # type: ignore[method-assign,assignment]
    client: Any = AsyncpgDBClient
    client.execute_query = retry_reads(client.execute_query)
    client.execute_query_dict = retry_reads(client.execute_query_dict)


async def run_in_transaction(client: Any, query: str, values: list[Any]) -> Any:
    """``client.execute_query_dict(query, values)`` for the member actions' statements
    (engine.sql.rows), straight on the asyncpg connection when ``client`` is a PostgreSQL
    transaction: Tortoise 1.1.9's path there adds four coroutine layers per statement (the two
    exception translators, the read retry above, the connection wrapper) and copies every row
    into a dict, about a tenth of a vote's CPU. What those layers do in a transaction is done
    here too: the wrapper's lock, the debug line of ``tortoise.db_client`` (the statement pins
    count it) and ``AsyncpgDBClient._translate_exceptions``'s mapping, so a unique violation is
    still an ``IntegrityError`` (engine.conflicts) and anything else (a deadlock, a broken
    connection) reaches ``exit_pooled`` and engine.db as before. A read is never retried inside
    a transaction (``retry_reads``), so nothing of that is lost. Rows are asyncpg Records, which
    read as mappings. Elsewhere (SQLite, outside a transaction) Tortoise's own path runs."""
    if type(client) is not TransactionWrapper:
        return await client.execute_query_dict(query, values)
    async with client._lock:
        client.log.debug("%s: %s", query, values)
        try:
            return await client._connection.fetch(query, *values)
        except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as exc:
            raise OperationalError(exc) from exc
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(exc) from exc
        except asyncpg.InvalidTransactionStateError as exc:
            raise TransactionManagementError(exc) from exc


# A connection lost while arq's start_jobs watches a key surfaces as a WatchError (a genuine
# watch conflict arq catches itself, around EXEC).
_REDIS_DOWN = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.WatchError,
    OSError,
)
_REDIS_RETRY_DELAY = 1.0
# Longest idle wait between two looks at the queue with no wake-up: what a lost wake-up (one
# published while the wake channel was reconnecting) costs at worst. Deferred jobs, crons and the
# health record have their own due times (ResilientWorker._idle_wait); a job deferred by less than
# this publishes a wake-up (runtime.queue.ArqJobQueue), one deferred longer is seen at a look.
IDLE_POLL = 2.0
# arq 0.28.0's heart_beat enqueues a cron job once its next run is within this (its cron window,
# 2 x max(poll_delay, 0.5 s)): the worker looks again this much before the next run.
_CRON_LEAD = 0.5


class ResilientWorker(Worker):
    """arq's worker, woken by enqueues and finished jobs, and riding out Redis outages.

    arq looks at its queue every ``poll_delay``: on average half of that is added to every
    delivery's latency, and a full worker waits that long to refill its slots. This worker runs
    arq's poll loop with no delay and waits in ``_poll_iteration`` instead, until an enqueue
    publishes on the wake channel, a job frees a slot of a full worker, or the next thing falls
    due with no wake-up (``_idle_wait``: the earliest deferred job in the queue, the next cron
    job, the health record, IDLE_POLL at most). An idle worker so sends a few Redis commands
    every IDLE_POLL instead of one every 0.05 s (docs/architecture.md, "Private-API overrides").

    arq alone exits on a refused Redis connection; this one waits it out. Nothing is lost meanwhile:
    deliveries are rows, and the sweeper enqueues what is due once Redis is back.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_versions()  # the overrides below are arq 0.28.0's internals
        super().__init__(*args, poll_delay=0, **kwargs)
        self._wake = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def _poll_iteration(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_for_wake_ups())
            # A job enqueued before the subscription would otherwise wait for a look.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), IDLE_POLL)
        try:
            await super()._poll_iteration()
            wait = await self._idle_wait()
        except _REDIS_DOWN as exc:
            log.warning("Redis unavailable (%s); retrying in %.0f s", exc, _REDIS_RETRY_DELAY)
            await self._reclaim_slots()
            await asyncio.sleep(_REDIS_RETRY_DELAY)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)
        self._wake.clear()

    async def _idle_wait(self) -> float:
        """How long the worker may wait for a wake-up before it must look at the queue again:
        until the earliest job deferred to later is due (read from arq's queue, the sorted set
        scored by due time), a cron job is to be enqueued, or the health record is due; at most
        IDLE_POLL. Jobs due now that it did not start are running (here, with their completion
        waking a full worker, or elsewhere), so only later ones count."""
        wait = IDLE_POLL
        if self.allow_pick_jobs and self.job_counter < self.max_jobs:
            now_ms = timestamp_ms()
            later = await self.pool.zrangebyscore(
                self.queue_name, min=f"({now_ms}", max="+inf", start=0, num=1, withscores=True
            )
            if later:
                wait = min(wait, (later[0][1] - now_ms) / 1000)
        runs = [job.next_run for job in self.cron_jobs]
        if runs:
            if None in runs:
                return 0.0  # arq has not scheduled it yet: its next heart beat does
            soonest = min(run for run in runs if run is not None)
            until = (soonest - datetime.now(tz=self.timezone)).total_seconds()
            wait = min(wait, until - _CRON_LEAD)
        health = self._last_health_check + self.health_check_interval - time.time()
        return max(0.0, min(wait, health))

    def _release_sem_dec_counter_on_complete(self) -> None:
        full = self.job_counter >= self.max_jobs
        super()._release_sem_dec_counter_on_complete()
        if full or self.burst:
            # Jobs may be waiting for this slot, or (--burst) the queue may be empty now: look.
            self._wake.set()

    async def _listen_for_wake_ups(self) -> None:
        channel = redis_keys.wake_channel()
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    self._subscribed.set()
                    self._wake.set()  # wake-ups published while not subscribed were lost: look
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: polling goes on, listen again later
                log.debug("wake-up channel lost (%s)", exc)
                await asyncio.sleep(_REDIS_RETRY_DELAY)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        # arq's close gathers the job tasks without return_exceptions: a job its signal handler
        # had cancelled (a cron job running at SIGTERM) raised CancelledError there, before
        # on_shutdown, and a SQLite worker's database thread kept the process alive. They are
        # waited for here, and arq's gather finds none (docs/architecture.md, "Private-API
        # overrides").
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        await super().close()

    async def _reclaim_slots(self) -> None:
        """Give back job slots arq took for a job it was starting when Redis failed.

        A slot (``job_counter`` and the semaphore, always moved together) is owned by a running
        task until its done-callback runs; one taken while Redis failed has no task.
        """
        for _ in range(3):
            await asyncio.sleep(0)  # let done-callbacks of finished tasks run first
        owned = sum(1 for task in self.tasks.values() if not task.done())
        for _ in range(max(0, self.job_counter - owned)):
            self.job_counter -= 1
            self.sem.release()
