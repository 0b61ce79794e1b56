"""Writing the ledger: bookings inside a unit of work, with the members locked.

A booking locks every member whose total it may move (``SELECT ... FOR NO KEY UPDATE``, ascending
ids, so two workers handling events of the same members queue instead of deadlocking; on SQLite
the single writer does the same). Under that lock it reads what it needs (existing source keys,
today's vote points), collects entries, and on exit writes them with one multi-row INSERT, moves
the denormalised totals and levels with one UPDATE and records ``member.level_changed`` in the
same transaction.

One event books alone (:func:`booking` opens and finishes its own booking). A batch of events
(``engine.reputation.batch``) shares one booking: the members of every event locked once, what
the handlers would read one row at a time loaded up front (:meth:`Booking.know_keys`,
:meth:`Booking.know_vote_points`, :meth:`Booking.know_badges`), and :func:`booking` inside the
batch hands its handlers that booking instead of opening one (docs/architecture.md, "Consuming
events in batches").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from engine import events, payloads
from engine.clock import utcnow
from engine.conflicts import Conflict
from engine.events import EventType
from engine.models.events import DomainEvent
from engine.models.members import Member
from engine.reputation import badges
from engine.reputation.levels import level_for
from engine.reputation.models import Reason, ReputationEntry
from engine.reputation.rules import Rules
from engine.sql import Params, Statement, from_row
from engine.tenancy import current_tenant_id

Flush = Callable[[], Awaitable[None]]


class Part(Protocol):
    """Per-booking state that writes what it gathered when the booking finishes."""

    async def flush(self) -> None: ...


P = TypeVar("P", bound=Part)

ENTRY_COLUMNS = (
    "tenant_id",
    "member_id",
    "points",
    "reason",
    "withheld",
    "vote_earned",
    "source_key",
    "occurred_at",
    "campaign_id",
    "idea_id",
    "subject",
    "actor_id",
    "event_id",
    "created_at",
)
# Rows per INSERT: 14 parameters each stays far below PostgreSQL's 32 767 and SQLite's 32 766.
_ROWS_PER_INSERT = 500


def _day(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Booking:
    """The reputation writes of one transaction: one event's, or a whole batch's.

    ``rules``, ``occurred_at`` and ``event_id`` are those of the event being handled (a batch
    moves them on before each event); entries take them when added.
    """

    rules: Rules
    occurred_at: datetime
    event_id: int | None
    members: dict[int, Member]
    deltas: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # Work the handlers left for the end of the transaction (vote credits, serial discounts),
    # run by finish() before the entries are written.
    flushes: list[Flush] = field(default_factory=list)
    # Per-booking state a handler keeps between events of a batch (vote credits), by name.
    state: dict[str, Any] = field(default_factory=dict)
    _entries: list[tuple[Any, ...]] = field(default_factory=list)
    # Source keys whose presence in the ledger is known; those present (or written here).
    _checked: set[str] = field(default_factory=set)
    _held: set[str] = field(default_factory=set)
    _badges_checked: set[str] = field(default_factory=set)
    _badges_held: set[str] = field(default_factory=set)
    # Net vote-earned points per (member, UTC day), entries of this booking included.
    _vote_points: dict[tuple[int, datetime], int] = field(default_factory=dict)

    def part(self, name: str, make: Callable[[], P]) -> P:
        """The booking's ``name`` state (the vote credits, the serial findings): made on first
        use, and flushed when the booking finishes, in the order first used."""
        found: P | None = self.state.get(name)
        if found is None:
            found = self.state[name] = make()
            self.flushes.append(found.flush)
        return found

    async def add(
        self,
        member_id: int,
        points: int,
        reason: Reason,
        source_key: str,
        *,
        subject: str = "",
        idea_id: int | None = None,
        campaign_id: int | None = None,
        actor_id: int | None = None,
        vote_earned: bool = False,
        withheld: int = 0,
    ) -> bool:
        """Book one entry unless its source key exists; False when it did (a replay)."""
        if member_id not in self.members:
            raise RuntimeError(f"member {member_id} is not locked by this booking")
        if source_key in self._held:
            return False
        if (
            source_key not in self._checked
            and await ReputationEntry.filter(source_key=source_key).exists()
        ):
            self._checked.add(source_key)
            self._held.add(source_key)
            return False
        self._checked.add(source_key)
        self._held.add(source_key)
        self._entries.append(
            (
                current_tenant_id(),
                member_id,
                points,
                reason.value,
                withheld,
                vote_earned,
                source_key,
                self.occurred_at,
                campaign_id,
                idea_id,
                subject[:140],
                actor_id,
                self.event_id,
            )
        )
        if vote_earned:
            day = (member_id, _day(self.occurred_at))
            if day in self._vote_points:
                self._vote_points[day] += points
        self.deltas[member_id] += points
        return True

    async def vote_points_today(self, member_id: int) -> int:
        """Net vote-earned points of the member on the UTC day of the activity being booked,
        entries of this booking included."""
        key = (member_id, _day(self.occurred_at))
        if key not in self._vote_points:
            await self.know_vote_points((member_id,), (self.occurred_at,))
        return self._vote_points[key]

    def _booked_vote_points(self, member_id: int, start: datetime) -> int:
        end = start + timedelta(days=1)
        return sum(
            row[2]
            for row in self._entries
            if row[1] == member_id and row[5] and start <= row[7] < end
        )

    async def vote_room(self, member_id: int) -> int:
        """How many more vote-earned points the daily cap allows the member today."""
        return max(0, self.rules.daily_vote_cap - await self.vote_points_today(member_id))

    async def holds_badge(self, source_key: str) -> bool:
        """True when the badge is known to be held; False when absent or not known here."""
        return source_key in self._badges_held

    async def award(
        self,
        member: Member,
        spec: badges.BadgeSpec,
        source_key: str,
        *,
        idea_id: int | None = None,
        campaign_id: int | None = None,
        awarded_at: datetime | None = None,
    ) -> None:
        """``badges.award`` unless this booking already knows the badge is held."""
        if source_key in self._badges_held:
            return
        await badges.award(
            member,
            spec,
            source_key,
            idea_id=idea_id,
            campaign_id=campaign_id,
            awarded_at=awarded_at,
        )
        self._badges_checked.add(source_key)
        self._badges_held.add(source_key)

    # What a batch loads up front, one statement each, instead of one row per handler call.

    async def know_keys(self, keys: Iterable[str]) -> None:
        """Which of these source keys the ledger holds (the members are locked: it stays so)."""
        wanted = sorted(set(keys) - self._checked)
        if not wanted:
            return
        rows = await read(_HELD_KEYS, tenant=current_tenant_id(), keys=wanted)
        self._checked.update(wanted)
        self._held.update(str(row[0]) for row in rows)

    async def know_badges(self, keys: Iterable[str]) -> None:
        wanted = sorted(set(keys) - self._badges_checked)
        if not wanted:
            return
        rows = await read(_HELD_BADGES, tenant=current_tenant_id(), keys=wanted)
        self._badges_checked.update(wanted)
        self._badges_held.update(str(row[0]) for row in rows)

    async def know_vote_points(self, member_ids: Iterable[int], days: Iterable[datetime]) -> None:
        """Today's vote points of these members on these days, one statement per day."""
        ids = sorted(set(member_ids))
        for day in sorted({_day(d) for d in days}):
            missing = [m for m in ids if (m, day) not in self._vote_points]
            if not missing:
                continue
            rows = await read(
                _VOTE_POINTS,
                tenant=current_tenant_id(),
                members=missing,
                start=day,
                end=day + timedelta(days=1),
            )
            stored = {int(row[0]): int(row[1] or 0) for row in rows}
            for member_id in missing:
                self._vote_points[(member_id, day)] = stored.get(
                    member_id, 0
                ) + self._booked_vote_points(member_id, day)

    async def finish(self) -> None:
        """Write what was booked: the entries, the totals and levels, then the handlers' flushes.
        The flushes come last because serial voting's locks the ideas it discounts votes on, and
        every vote on those ideas waits for that lock until the commit: only marking the events
        processed follows it (docs/architecture.md, "Consuming events in batches")."""
        await self._insert_entries()
        await self._move_totals()
        flushes, self.flushes = self.flushes, []
        for flush in flushes:
            await flush()
        # Whatever a flush booked (none does today); nothing is sent when nothing is left.
        await self._insert_entries()
        await self._move_totals()

    async def _insert_entries(self) -> None:
        entries, self._entries = self._entries, []
        if not entries:
            return
        client = connection()
        postgres = client.capabilities.dialect == "postgres"
        now = utcnow()
        columns = ", ".join(ENTRY_COLUMNS)
        for start in range(0, len(entries), _ROWS_PER_INSERT):
            p = Params(postgres)
            rows = ", ".join(
                f"({', '.join(p(value) for value in (*row, now))})"
                for row in entries[start : start + _ROWS_PER_INSERT]
            )
            await client.execute_query(
                f"INSERT INTO reputation_entry ({columns}) VALUES {rows}", p.values
            )

    async def _move_totals(self) -> None:
        moved: list[tuple[Member, int, int]] = []
        for member_id, delta in self.deltas.items():
            if delta:
                member = self.members[member_id]
                total = member.reputation + delta
                moved.append((member, delta, level_for(total, self.rules)))
        self.deltas.clear()
        if not moved:
            return
        client = connection()
        p = Params(client.capabilities.dialect == "postgres")
        rows = ", ".join(
            f"(CAST({p(m.id)} AS BIGINT), CAST({p(delta)} AS BIGINT), CAST({p(level)} AS INTEGER))"
            for m, delta, level in moved
        )
        # One statement for every member the booking moved (the rows are locked by it).
        await client.execute_query(
            f"WITH d(id, delta, level) AS (VALUES {rows}) UPDATE member SET"
            " reputation = reputation + (SELECT d.delta FROM d WHERE d.id = member.id),"
            " level = (SELECT d.level FROM d WHERE d.id = member.id)"
            " WHERE id IN (SELECT d.id FROM d)",
            p.values,
        )
        for member, delta, level in moved:
            total = member.reputation + delta
            if level != member.level:
                await _record_level_change(member, member.level, level, total, self.rules)
                member.level = level
            member.reputation = total


def connection() -> Any:
    return events.unit_connection("a booking writes")


async def lock_members(member_ids: Iterable[int]) -> dict[int, Member]:
    """Ascending ids, FOR NO KEY UPDATE: a vote inserting a row that references a member takes KEY
    SHARE on it, which this lock leaves alone, so member actions never wait for a booking and a
    booking never waits for them (docs/architecture.md, "Lock order")."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    # NO KEY UPDATE: a vote, pledge or comment inserted meanwhile takes KEY SHARE on its member
    # (the foreign key) and must not wait here, or a booking that goes on to lock ideas
    # (engine.vote_reversal) and a vote holding its idea would wait for each other.
    rows = await read(_LOCK_MEMBERS, tenant=current_tenant_id(), ids=ids)
    members = [from_row(Member, row) for row in rows]
    return {member.id: member for member in members}


# The batch's reads by key, one list parameter each (engine.sql): the same text for any number
# of keys, and a plan that probes the index per key (docs/architecture.md, "Reading by a list
# of keys").
_HELD_KEYS = Statement(
    lambda d: d.probe(
        ":keys::text[]",
        "SELECT source_key FROM reputation_entry WHERE tenant_id = :tenant",
        "source_key",
    )
)
_HELD_BADGES = Statement(
    lambda d: d.probe(
        ":keys::text[]",
        "SELECT source_key FROM member_badge WHERE tenant_id = :tenant",
        "source_key",
    )
)
# Per member, the day's range of their own entries (index tenant, member, occurred_at): what a
# batch reads stays the size of its members' days, where one pass over the tenant's day grew with
# the whole brand's volume. Members with no entry that day come back with NULL.
_VOTE_POINTS = Statement(
    lambda d: (
        f"""SELECT k.key, (SELECT SUM(points) FROM reputation_entry
    WHERE tenant_id = :tenant AND member_id = k.key AND vote_earned
    AND {d.ts("occurred_at")} >= {d.ts(":start")} AND {d.ts("occurred_at")} < {d.ts(":end")})
    FROM {d.keys(":members::bigint[]")}"""
    )
)
_MEMBER_COLUMNS = ", ".join(f'"{name}"' for name in sorted(Member._meta.db_fields))
_LOCK_MEMBERS = Statement(
    lambda d: (
        d.probe(
            ":ids::bigint[]",
            f'SELECT {_MEMBER_COLUMNS} FROM "member" WHERE tenant_id = :tenant',
            "id",
            "FOR NO KEY UPDATE",
        )
        + " ORDER BY id"
    )
)


async def read(statement: Statement, **params: Any) -> list[Any]:
    """The rows of one statement in the booking's transaction."""
    _, rows = await statement.execute(connection(), **params)
    return rows


_batch: ContextVar[Booking | None] = ContextVar("cosource_reputation_batch", default=None)


@contextmanager
def batch(book: Booking) -> Iterator[Booking]:
    """Handlers run in this block book into ``book`` (its members locked by the caller)."""
    token = _batch.set(book)
    try:
        yield book
    finally:
        _batch.reset(token)


def current_batch() -> Booking | None:
    return _batch.get()


@asynccontextmanager
async def booking(
    rules: Rules, member_ids: Iterable[int], event: DomainEvent | None, occurred_at: datetime
) -> AsyncIterator[Booking]:
    shared = _batch.get()
    if shared is not None:
        missing = set(member_ids) - set(shared.members)
        if missing:
            # Planned from rows read before the lock (a vote's credited author): run the batch
            # again, it plans from what the winner committed.
            raise Conflict(f"members {sorted(missing)} are not locked by this batch")
        shared.rules, shared.occurred_at = rules, occurred_at
        shared.event_id = event.id if event else None
        yield shared
        return
    async with events.unit_of_work():
        members = await lock_members(member_ids)
        book = Booking(rules, occurred_at, event.id if event else None, members)
        yield book
        await book.finish()


async def _record_level_change(
    member: Member, previous: int, level: int, total: int, rules: Rules
) -> None:
    def describe(number: int) -> dict[str, object]:
        rule = rules.levels[number]
        return {"number": number, "name": rule.name, "threshold": rule.threshold}

    await events.record(
        EventType.MEMBER_LEVEL_CHANGED,
        {
            # With the email (stripped for endpoints without includeEmails): a CRM finds contacts by it.
            "member": payloads.member_ref(member, with_email=True),
            "previousLevel": describe(min(previous, len(rules.levels) - 1)),
            "level": describe(level),
            "reputation": total,
        },
        member_id=member.id,
    )
