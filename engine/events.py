"""The domain-event spine.

A state change and its event are written in one transaction (:func:`unit_of_work` + :func:`record`).
Hooks installed by the composition root see the events twice: ``before_commit`` inside the
transaction (webhooks write one delivery row per subscribed endpoint there) and ``after_commit``
(enqueue jobs, publish live updates, drop cached reads; called after every commit, possibly with
no events). Asynchronous consumers (reputation) run from a
job per event and mark it processed; a sweeper re-runs anything left behind, so a lost enqueue only
delays work. Event payloads are plain JSON data, never model objects.

This module is a leaf of the engine: it imports no consumer. Which types some consumer acts on is
told by the composition root (:func:`set_consumed_types`), see docs/architecture.md, "The event
spine".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from engine import request_ids
from engine.clock import utcnow
from engine.ids import event_id
from engine.models.events import DomainEvent
from engine.sql import Params, Slot, spell
from engine.tenancy import current_tenant_id

log = logging.getLogger(__name__)


class EventType:
    """Every event type the engine records; webhook-visible ones are in WEBHOOK_EVENT_TYPES."""

    IDEA_CREATED = "idea.created"
    IDEA_THRESHOLD_REACHED = "idea.threshold_reached"
    IDEA_STATUS_CHANGED = "idea.status_changed"
    IDEA_RESPONDED = "idea.responded"
    IDEA_MERGED = "idea.merged"
    IDEA_UNMERGED = "idea.unmerged"
    IDEA_FLAGGED = "idea.flagged"
    IDEA_UNFROZEN = "idea.unfrozen"
    FLAG_RESOLVED = "flag.resolved"
    IDEA_VOTED = "idea.voted"
    IDEA_SCORED = "idea.scored"
    IDEA_PLEDGED = "idea.pledged"
    COMMENT_CREATED = "comment.created"
    CAMPAIGN_OPENED = "campaign.opened"
    # Internal, beside campaign.opened when a CLOSED campaign opens again: its winners lose their
    # rewards (a type of its own, so plain openings stay consumer-free).
    CAMPAIGN_REOPENED = "campaign.reopened"
    CAMPAIGN_CLOSED = "campaign.closed"
    CAMPAIGN_PARTICIPATION_DROPPED = "campaign.participation_dropped"
    CAMPAIGN_HERDING_DETECTED = "campaign.herding_detected"
    MEMBER_LEVEL_CHANGED = "member.level_changed"
    MEMBER_BADGE_AWARDED = "member.badge_awarded"
    ENDPOINT_DISABLED = "endpoint.disabled"
    WEBHOOK_TEST = "webhook.test"


# The types a webhook endpoint can subscribe to (docs/architecture.md, "The event spine"); the rest
# stay internal.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    EventType.IDEA_CREATED,
    EventType.IDEA_THRESHOLD_REACHED,
    EventType.IDEA_STATUS_CHANGED,
    EventType.IDEA_RESPONDED,
    EventType.IDEA_MERGED,
    EventType.IDEA_FLAGGED,
    EventType.CAMPAIGN_OPENED,
    EventType.CAMPAIGN_CLOSED,
    EventType.CAMPAIGN_PARTICIPATION_DROPPED,
    EventType.CAMPAIGN_HERDING_DETECTED,
    EventType.MEMBER_LEVEL_CHANGED,
    EventType.MEMBER_BADGE_AWARDED,
    EventType.ENDPOINT_DISABLED,
    EventType.WEBHOOK_TEST,
)


class EventHooks(Protocol):
    async def before_commit(
        self, connection: BaseDBAsyncClient, events: Sequence[DomainEvent]
    ) -> None: ...

    async def after_commit(self, events: Sequence[DomainEvent]) -> None: ...


class AfterCommitHook:
    """Base for hooks that only act once the change is committed (cache, live updates)."""

    async def before_commit(
        self, connection: BaseDBAsyncClient, events: Sequence[DomainEvent]
    ) -> None:
        return None

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        raise NotImplementedError


_hooks: list[EventHooks] = []
# The event types some asynchronous consumer acts on (engine.consumers.consumed_types), set by the
# composition root. None until then: every event is stored unprocessed, which costs a job or a
# sweep but loses nothing.
_consumed: frozenset[str] | None = None


def install_hooks(*hooks: EventHooks) -> None:
    """Set the hooks for this process (the API, the worker and the CLI each install theirs)."""
    _hooks[:] = hooks


def installed_hooks() -> tuple[EventHooks, ...]:
    return tuple(_hooks)


def set_consumed_types(types: frozenset[str] | None) -> None:
    """Tell ``record`` which types a consumer will process; the others are stored processed."""
    global _consumed
    _consumed = None if types is None else frozenset(types)


def is_consumed(event_type: str) -> bool:
    return _consumed is None or event_type in _consumed


OnCommit = Callable[[], Awaitable[None]]


@dataclass
class UnitOfWork:
    """One transaction and what it leaves for after its commit.

    Results of this transaction that only matter once it committed (the delivery rows a hook wrote
    before commit, to be enqueued after) are callbacks here, so they live and die with the
    transaction instead of waiting on a hook object shared by every transaction of the process.
    """

    connection: BaseDBAsyncClient
    events: list[DomainEvent] = field(default_factory=list)
    committed: list[OnCommit] = field(default_factory=list)


_current_uow: ContextVar[UnitOfWork | None] = ContextVar("cosource_uow", default=None)


def current_unit_of_work() -> UnitOfWork | None:
    """The unit of work this task is inside, if any (a retry can only restart the outermost)."""
    return _current_uow.get()


def unit_connection(what: str) -> Any:
    """The current unit of work's connection, for statements written by hand that must run in
    it; ``what`` says why one is needed when there is none."""
    uow = _current_uow.get()
    if uow is None:
        raise RuntimeError(f"{what} inside a unit of work")
    return uow.connection


def unit_of_work() -> _Transaction:
    """One transaction; events recorded in it reach the hooks. A nested call joins the outer one.

    Used as ``async with unit_of_work() as uow``. The block's events go to the hooks'
    ``before_commit`` inside the transaction (a failing hook rolls it back), then COMMIT, then
    the on-commit callbacks and ``after_commit`` (see :func:`_after_commit`).
    """
    return _Transaction()


class _Transaction:
    """:func:`unit_of_work`'s context manager: a class rather than ``@asynccontextmanager``,
    whose generator and wrapper cost a measurable share of a vote's CPU; same steps, same
    order."""

    __slots__ = ("_context", "_token", "_uow")

    async def __aenter__(self) -> UnitOfWork:
        outer = _current_uow.get()
        if outer is not None:
            self._context: Any = None  # joined: the outer one commits
            return outer
        context = in_transaction()
        connection = await context.__aenter__()
        self._context = context
        self._uow = UnitOfWork(connection)
        self._token = _current_uow.set(self._uow)
        return self._uow

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        context = self._context
        if context is None:
            return
        uow = self._uow
        try:
            if exc_type is None and uow.events:
                for hook in _hooks:
                    await hook.before_commit(uow.connection, uow.events)
        except BaseException as error:
            _current_uow.reset(self._token)
            await context.__aexit__(type(error), error, error.__traceback__)
            raise
        _current_uow.reset(self._token)
        await context.__aexit__(exc_type, exc, traceback)
        if exc_type is None:
            # Hooks run after every commit, events or not: a campaign edit also makes cached
            # reads stale.
            await _after_commit(uow)


def on_commit(callback: OnCommit) -> None:
    """Run ``callback`` after the current unit of work commits (never if it rolls back).

    Callbacks run in the order given, before the hooks' ``after_commit``; like those, a failing one
    is logged, not raised: the change is committed, and the sweeper finds what was left undone.
    """
    uow = _current_uow.get()
    if uow is None:
        raise RuntimeError("events.on_commit() must run inside unit_of_work()")
    uow.committed.append(callback)


async def _after_commit(uow: UnitOfWork) -> None:
    # The change is committed: a failing hook must not turn it into an error for the caller.
    # Whatever a hook failed to do, the sweeper finds from the rows.
    for callback in uow.committed:
        try:
            await callback()
        except Exception:
            log.exception("on-commit callback %r failed; the sweeper will catch up", callback)
    events = uow.events
    for hook in _hooks:
        try:
            await hook.after_commit(events)
        except Exception:
            log.exception("after-commit hook %r failed; the sweeper will catch up", hook)


def new_event(
    type: str,
    data: dict[str, Any],
    *,
    campaign_id: int | None = None,
    idea_id: int | None = None,
    member_id: int | None = None,
) -> DomainEvent:
    """An event of the current tenant, not yet written: :func:`record` writes it, or a statement
    of the caller's carries :func:`insert_template` (the member actions write theirs inside the
    statement that settles the idea, engine.counters) and then hands it to :func:`attach`."""
    now = utcnow()
    return _unsaved(
        tenant_id=current_tenant_id(),
        public_id=event_id(),
        type=type,
        occurred_at=now,
        # No asynchronous consumer acts on this type: nothing for a job or the sweeper to do.
        processed_at=None if is_consumed(type) else now,
        campaign_id=campaign_id,
        idea_id=idea_id,
        member_id=member_id,
        data=data,
        request_id=request_ids.current(),
        attempts=0,
    )


_TIMES = tuple(DomainEvent._meta.fields_map[name] for name in ("occurred_at", "processed_at"))


def _unsaved(**values: Any) -> DomainEvent:
    """``DomainEvent(**values)`` for every column but ``id``, as Tortoise 1.1.9's ``Model.__init__``
    leaves it (tests/engine/test_events.py compares the two), without its per-field checks and
    ``__setattr__``: a measurable share of a vote's CPU. Only the times need converting (to the
    configured time zone); the other values are stored as given, as ``__init__`` stores them."""
    event = DomainEvent.__new__(DomainEvent)
    state = event.__dict__
    state.update(_partial=False, _saved_in_db=False, _custom_generated_pk=False)
    state["_await_when_save"] = {}
    for time in _TIMES:
        values[time.model_field_name] = time.to_python_value(values[time.model_field_name])
    state.update(values)
    state["id"] = None
    return event


_EVENT_COLUMNS = (
    "tenant_id",
    "public_id",
    "type",
    "occurred_at",
    "processed_at",
    "campaign_id",
    "idea_id",
    "member_id",
    "data",
    "request_id",
    "attempts",
)
# Each column's PostgreSQL type, in the order of _EVENT_COLUMNS: the values of an INSERT ... SELECT
# take the select's types, not the columns' (insert_select_template).
_EVENT_TYPES = (
    "BIGINT",
    "VARCHAR",
    "VARCHAR",
    "TIMESTAMPTZ",
    "TIMESTAMPTZ",
    "BIGINT",
    "BIGINT",
    "BIGINT",
    "JSONB",
    "VARCHAR",
    "INT",
)
_DATA = DomainEvent._meta.fields_map["data"]  # the model's own JSON encoding
# The event's values in a statement built once (engine.counters): sql.bind takes event_values.
_EVENT_SLOTS = tuple(Slot(f"event.{name}") for name in _EVENT_COLUMNS)


def _values(event: DomainEvent) -> list[Any]:
    return [
        _DATA.to_db_value(event.data, event) if name == "data" else getattr(event, name)
        for name in _EVENT_COLUMNS
    ]


def insert_template(p: Params) -> str:
    """``INSERT ... RETURNING id`` of an event, its values left as slots (``event.<column>``) so
    the text is built once: bind them with :func:`event_values`."""
    placed = ", ".join(p(slot) for slot in _EVENT_SLOTS)
    return f"INSERT INTO domain_event ({', '.join(_EVENT_COLUMNS)}) VALUES ({placed}) RETURNING id"


def insert_select_template(p: Params, source: str, where: str, data_extra: str) -> str:
    """:func:`insert_template` as ``INSERT ... SELECT ... FROM source WHERE where`` (PostgreSQL),
    the same slots, and the data merged with the JSON object ``data_extra`` builds (an SQL
    expression): for a statement whose other parts decide whether the event is written and give
    values it carries (engine.counters)."""
    values = [
        f"CAST({p(slot)} AS {kind})" for slot, kind in zip(_EVENT_SLOTS, _EVENT_TYPES, strict=True)
    ]
    data = _EVENT_COLUMNS.index("data")
    values[data] = f"{values[data]} || {data_extra}"
    return (
        f"INSERT INTO domain_event ({', '.join(_EVENT_COLUMNS)})"
        f" SELECT {', '.join(values)} FROM {source} WHERE {where} RETURNING id"
    )


def event_values(event: DomainEvent) -> dict[str, Any]:
    """The slots of :func:`insert_template` and the event's values for them."""
    return dict(zip(_EVENT_SLOTS, _values(event), strict=True))


@cache
def _insert_text(postgres: bool) -> str:
    return insert_template(Params(postgres))


def insert_statement(event: DomainEvent, postgres: bool) -> tuple[str, list[Any]]:
    """``INSERT ... RETURNING id`` of an unsaved event: the text (built once per dialect) and
    the event's values."""
    return _insert_text(postgres), [spell(value, postgres) for value in _values(event)]


def attach(event: DomainEvent, event_pk: int) -> DomainEvent:
    """The event's row is written (its id is ``event_pk``): it belongs to the unit of work now."""
    uow = _current_uow.get()
    if uow is None:
        raise RuntimeError("events.attach() must run inside unit_of_work()")
    event.id = event_pk
    event._saved_in_db = True
    uow.events.append(event)
    return event


async def record(
    type: str,
    data: dict[str, Any],
    *,
    campaign_id: int | None = None,
    idea_id: int | None = None,
    member_id: int | None = None,
) -> DomainEvent:
    """Write one event in the current unit of work (raises outside one: events never float free)."""
    uow = _current_uow.get()
    if uow is None:
        raise RuntimeError("events.record() must run inside unit_of_work()")
    event = new_event(type, data, campaign_id=campaign_id, idea_id=idea_id, member_id=member_id)
    sql, values = insert_statement(event, uow.connection.capabilities.dialect == "postgres")
    rows = await uow.connection.execute_query_dict(sql, values)
    return attach(event, int(rows[0]["id"]))
