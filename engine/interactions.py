"""One member's value on one idea (a vote, a score, a pledge): the routine all three share.

What differs between them is data, a :class:`Kind`: the table and its value column, the event, how
a change moves the idea's counters, the threshold metrics it can reach, and the admission rule. The
routine is the same for all, and its order is the lock order (docs/architecture.md, "Lock order"):

1. one statement reads the idea, its campaign and the member, unlocked, locks the member's own
   row for this idea (``FOR UPDATE``: only the same member acting on the same idea waits there; the
   previous value is now known) and takes the member's gate shared (engine.member_gate: a change
   of their value or verified flag cannot commit between this action's supporters' step and its
   commit); votes and scores also take the campaign gate in it;
2. admission: the kind's one function says whether this change is allowed, and under which idea
   state (a :class:`~engine.counters.Guard`) that answer holds; no statement of its own unless a
   vote budget must be counted;
3. last, ``counters.bump``: one statement writes the member's row, takes the idea's row lock
   through the guard (re-checking the campaign behind the gate), moves the counters and, when the
   locked idea is still the one step 1 read, writes the sort keys, the supporters and the event
   computed from that read; otherwise one more statement writes those from the locked row. The
   crossing only when the UPDATE said a threshold may have been met. Then COMMIT.

Concurrent actions on one idea therefore hold its lock for the end of one statement and the
commit, not for the whole action. A lost race (the idea was merged, frozen or hidden, or the campaign closed, after
step 1; two first actions of one member at once) rolls back and runs again from step 1
(``engine.conflicts``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from tortoise import connections

from engine import campaign_gate, counters, events, member_gate, payloads, ranking, sql
from engine.conflicts import retrying
from engine.counters import Bump, Guard, Outcome, RowWrite
from engine.errors import NotFound, Unauthenticated
from engine.models.campaigns import Campaign, ThresholdMetric
from engine.models.events import DomainEvent
from engine.models.ideas import Idea
from engine.models.members import Member
from engine.sql import Params
from engine.tenancy import current_tenant_id
from engine.thresholds import record_crossings


@dataclass(frozen=True)
class Action:
    """A member asking to move their value on an idea from ``previous`` to ``value``."""

    member: Member
    idea: Idea
    campaign: Campaign
    previous: int
    value: int


def _always(previous: int, value: int) -> bool:
    return True


@dataclass(frozen=True)
class Kind:
    """Everything that differs between votes, scores and pledges."""

    name: str  # "vote": the row's key in the event is "voteId"
    model: Any  # the Tortoise model: Vote, Score or Pledge
    column: str  # the member's value on the row; 0 is "none" (retracted, withdrawn)
    event_type: str
    metrics: frozenset[ThresholdMetric]
    # Raises DomainError when the action is refused; otherwise what must still hold of the idea.
    admit: Callable[[Action], Awaitable[Guard]]
    deltas: Callable[[int, int], dict[str, int]]  # (previous, value) -> counter deltas
    crosses: Callable[[int, int], bool] = _always  # whether this change can reach a threshold
    versioned: bool = False  # the row counts its changes (consumers apply them in order)
    # Takes the campaign gate (engine.campaign_gate): nothing of it commits after a close.
    gated: bool = False
    # The row records serial voting (engine.vote_reversal): a discounted row counts for nothing.
    discountable: bool = False


@dataclass(frozen=True)
class Reading:
    """What step 1 read: the idea and its campaign (unlocked), the member, and their row."""

    idea: Idea
    campaign: Campaign
    member: Member
    row_id: int | None
    previous: int
    discounted: bool


async def interact(kind: Kind, member: Member | int, idea_id: int, value: int) -> Outcome:
    """``member`` may be just its id: the routine reads the row in its first statement anyway."""
    member_id = member if isinstance(member, int) else int(member.id)
    return await retrying(lambda: _interact(kind, member_id, idea_id, value))


async def _interact(kind: Kind, member_id: int, idea_id: int, value: int) -> Outcome:
    async with events.unit_of_work():
        read = await read_action(kind, member_id, idea_id)
        idea, campaign, member, previous = read.idea, read.campaign, read.member, read.previous
        guard = await kind.admit(Action(member, idea, campaign, previous, value))
        if previous == value:
            return Outcome(idea, counters.counters_of(idea), value, changed=False)
        # A vote found to be serial voting stays recorded but out of the counts (vote_reversal).
        counted = not read.discounted
        metrics = kind.metrics if counted and kind.crosses(previous, value) else frozenset()

        def event(bumped: Bump) -> DomainEvent:
            data: dict[str, Any] = {
                f"{kind.name}Id": bumped.row_id,
                "ideaId": idea.id,
                "campaignId": campaign.id,
                "memberId": member.id,
                "authorId": idea.author_id,
                "ideaTitle": idea.title,
                "previous": previous,
                "value": value,
                # For consumers (reputation reasons and badges) that must not query around it.
                "counts": payloads.counts(bumped.counters),
            }
            if kind.versioned:
                data["version"] = bumped.row_version
            return events.new_event(
                kind.event_type,
                data,
                campaign_id=campaign.id,
                idea_id=idea.id,
                member_id=member.id,
            )

        bumped = await counters.bump(
            idea.id,
            idea.created_at,
            kind.deltas(previous, value) if counted else {},
            rules=ranking.rules_of(campaign),
            guard=guard,
            metrics=metrics,
            row=RowWrite(
                kind.model._meta.db_table,
                kind.column,
                idea.id,
                member.id,
                value,
                read.row_id,
                kind.versioned,
                event_key=f"{kind.name}Id",
            ),
            event=event,
            seen=idea,
        )
        crossed = []
        if bumped.may_cross:
            crossed = await record_crossings(idea, campaign, bumped.counters, metrics)
    return Outcome(idea, bumped.counters, value, changed=True, crossed=crossed)


_PREFIXES = (("i", Idea), ("c", Campaign), ("m", Member))


@cache
def _read_columns() -> tuple[tuple[Any, tuple[str, ...]], ...]:
    """Each model of :func:`read_action`'s row and its columns, in the statement's order; the
    member's own row (id, value, discounted_by) comes after them."""
    return tuple((read, tuple(sorted(read._meta.db_fields))) for _, read in _PREFIXES)


@cache
def _read_sql(model: Any, column: str, discountable: bool, gated: bool, postgres: bool) -> str:
    """The text of :func:`read_action`'s statement; its parameters are the member id, the idea id
    and the tenant id, in that order."""
    p = Params(postgres)
    table = model._meta.db_table
    selected = [
        f"{alias}.{name} AS {alias}__{name}"
        for (alias, _), (_, names) in zip(_PREFIXES, _read_columns(), strict=True)
        for name in names
    ]
    discounted = "r.discounted_by" if discountable else "NULL"
    own = ["r.id AS r__id", f"r.{column} AS r__value", f"{discounted} AS r__discounted_by"]
    if gated and postgres:
        own.append(f"{campaign_gate.shared_sql('c.id')} AS gate")
    member = f"LEFT JOIN member m ON m.id = {p(0)} AND m.tenant_id = i.tenant_id"
    if postgres:
        # The member's gate: a change of their value or flag waits for this commit, and one in
        # flight makes this statement wait for its commit, so whichever commits last counts
        # both (engine.member_gate; docs/architecture.md, "Lock order").
        own.append(f"{member_gate.shared_sql('m.id')} AS member_gate")
        mine = (
            f"LEFT JOIN LATERAL (SELECT * FROM {table} WHERE idea_id = i.id AND member_id = m.id"
            " FOR UPDATE) r ON true"
        )
    else:  # SQLite has one writer at a time: nothing to lock
        mine = f"LEFT JOIN {table} r ON r.idea_id = i.id AND r.member_id = m.id"
    return (
        f"SELECT {', '.join(selected + own)} FROM idea i"
        " JOIN campaign c ON c.id = i.campaign_id AND c.tenant_id = i.tenant_id"
        f" {member} {mine} WHERE i.id = {p(0)} AND i.tenant_id = {p(0)}"
    )


async def read_action(kind: Kind, member_id: int, idea_id: int) -> Reading:
    """Step 1 in one statement: the idea with its campaign and the member, read without a lock,
    and the member's row of this kind locked (``FOR UPDATE``); the member's gate and the campaign
    gate are taken last, after the rows were read, so the campaign's state must be checked again
    by a later statement (``Guard.campaign_open``), and the member's value is read again by the
    supporters' step (docs/architecture.md, "Lock order")."""
    client: Any = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    text = _read_sql(kind.model, kind.column, kind.discountable, kind.gated, postgres)
    rows = await sql.rows(client, text, [member_id, idea_id, current_tenant_id()])
    if not rows:
        raise NotFound("idea", "ideaId")
    found = tuple(rows[0].values())  # in the statement's order (see _read_sql)
    parts: list[dict[str, Any]] = []
    start = 0
    for _, names in _read_columns():
        end = start + len(names)
        parts.append(dict(zip(names, found[start:end], strict=True)))
        start = end
    if parts[2]["id"] is None:
        raise Unauthenticated("the member of this token no longer exists")
    idea, campaign, member = (
        sql.from_row(read, part) for (read, _), part in zip(_read_columns(), parts, strict=True)
    )
    row_id, previous, discounted_by = found[start : start + 3]
    return Reading(
        idea=idea,
        campaign=campaign,
        member=member,
        row_id=None if row_id is None else int(row_id),
        previous=0 if previous is None else int(previous),
        discounted=discounted_by is not None,
    )
