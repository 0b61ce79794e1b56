"""Idea counters change only here: one relative UPDATE in the caller's transaction, read back by it.

The UPDATE takes the idea's row lock (PostgreSQL; SQLite runs it inside its single writer), so the
counters it returns and the sort keys written from them are this transaction's: no lost update, and
threshold checks see a consistent value. It is the last lock a member action takes
(docs/architecture.md, "Lock order"): it comes after every statement that does not need the idea
locked, and only the sort keys, the event and (rarely) a threshold crossing follow it before COMMIT
(for a member action that read the idea first, in the same statement when the locked row is the
one it read: see :func:`bump`).

Callers that read the idea without a lock pass a :class:`Guard`: the states their admission relied
on (visible, not merged, not frozen, not in some statuses) are re-checked by the UPDATE itself, and
when they no longer hold the unit of work is run again (``engine.conflicts``), so the rules answer
from the state that won.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from engine import events, sql, supporters
from engine.clock import utcnow
from engine.conflicts import Conflict, is_unique_violation
from engine.eligibility import open_sql
from engine.models.campaigns import Threshold, ThresholdMetric
from engine.models.events import DomainEvent
from engine.models.ideas import Idea, IdeaStatus
from engine.ranking import Counters, RankRules, hot_rank, ranks
from engine.sql import Params, Slot, bind
from engine.tenancy import current_tenant_id

_COUNTER_FIELDS = (
    "upvotes",
    "downvotes",
    "net_votes",
    "score_sum",
    "score_count",
    "pledgers",
    "pledged_quantity",
    "comment_count",
    *supporters.SUPPORTER_FIELDS,
)

# A threshold's metric as an SQL expression over the updated idea row (see thresholds.metric_value).
# Only a hint for skipping the crossing check when nothing can have been reached: the decision is
# made in Python by thresholds.record_crossings, so the score comparison errs on the generous side.
_REACHED = {
    ThresholdMetric.NET_VOTES: "idea.net_votes >= t.value",
    ThresholdMetric.UPVOTES: "idea.upvotes >= t.value",
    ThresholdMetric.PLEDGERS: "idea.pledgers >= t.value",
    ThresholdMetric.PLEDGED_QUANTITY: "idea.pledged_quantity >= t.value",
    ThresholdMetric.SUPPORTER_VALUE: "idea.supporter_value_cents >= t.value",
    ThresholdMetric.AVERAGE_SCORE: (
        "idea.score_count > 0 AND idea.score_count >= t.min_count"
        " AND idea.score_sum >= (t.value - 0.000001) * idea.score_count"
    ),
}


@dataclass(frozen=True)
class Guard:
    """What must still hold of an idea read without a lock when its counters move.

    Not hidden (unless ``hidden_ok``: a retract); ``open``: not merged and not frozen; and none of
    ``statuses_not``. ``campaign_open``: the idea's campaign is still open, as read by the UPDATE
    itself, whose snapshot comes after the campaign gate the caller took (engine.campaign_gate).
    """

    open: bool = True
    statuses_not: frozenset[IdeaStatus] = frozenset()
    hidden_ok: bool = False
    campaign_open: bool = False


@dataclass(frozen=True)
class RowWrite:
    """The member's own row (a vote, a score, a pledge) written by the statement that moves the
    counters: ``row_id`` None inserts it, otherwise its value column is set (and its version
    bumped when ``versioned``)."""

    table: str
    column: str
    idea_id: int
    member_id: int
    value: int
    row_id: int | None
    versioned: bool
    # The key of the row's id in the event's data (and "version" beside it when versioned):
    # what the statement that writes the row and the event at once fills in (see bump).
    event_key: str = ""


@dataclass(frozen=True)
class Bump:
    counters: Counters
    # A threshold of the given metrics is met and not yet recorded as crossed for this idea.
    may_cross: bool = False
    # The member's row that ``bump(row=...)`` wrote: its id and version.
    row_id: int | None = None
    row_version: int | None = None


# Builds the event of the change once the counters are known; written in the same statement as the
# sort keys (see :func:`bump`).
EventOf = Callable[[Bump], DomainEvent]


async def bump(
    idea_id: int,
    created_at: datetime,
    deltas: Mapping[str, int],
    *,
    rules: RankRules,
    guard: Guard | None = None,
    metrics: Iterable[ThresholdMetric] = (),
    row: RowWrite | None = None,
    event: EventOf | None = None,
    seen: Idea | None = None,
) -> Bump:
    """Move the idea's counters; with ``row`` and ``event``, everything a member action writes.

    Two statements on PostgreSQL (docs/architecture.md, "One vote, end to end"): the member's row
    and the guarded counter UPDATE that takes the idea's lock, then one that writes the sort keys,
    moves the supporters when they may have moved (a member action steps them by its member,
    anything else recounts them: engine.supporters; its snapshot comes after the lock, so it sees
    every row and member value committed before) and inserts the event. SQLite, which cannot write inside
    a WITH, runs the same statements one by one under its single writer.

    With ``seen`` (the idea as the caller read it, unlocked) a member action is one statement on
    PostgreSQL: the sort keys, the supporters' step and the event are computed from ``seen`` and
    the deltas, and written with the counters only if the row, once locked, still holds what
    ``seen`` held; otherwise that statement moved the counters alone and the second one follows
    as above (docs/architecture.md, "One vote, end to end").
    """
    if not _KNOWN.issuperset(deltas):
        raise ValueError(f"unknown counters {sorted(set(deltas) - _KNOWN)}")
    changes = {name: int(delta) for name, delta in deltas.items() if delta}
    client: Any = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    metrics = tuple(sorted(set(metrics)))
    tenant_id = current_tenant_id()
    now = utcnow()
    # Each statement's text depends only on its shape: built once, then its values bound.
    values: dict[str, Any] = {"idea_id": idea_id, "tenant_id": tenant_id, "now": now}
    for name, delta in changes.items():
        values[f"delta.{name}"] = delta
    shape = None
    if row is not None:
        shape = (row.table, row.column, row.row_id is None, row.versioned)
        values.update(value=row.value, row_id=row.row_id, member_id=row.member_id)
    if (
        seen is not None
        and postgres
        and shape is not None
        and row is not None
        and row.event_key
        and event is not None
    ):
        done = await _bump_at_once(
            client, values, seen, created_at, changes, rules, guard, metrics, row, shape, event
        )
        if done is not None:
            return done
    alone, counting = _counting_sql(shape, tuple(changes), guard, metrics, postgres)

    written_row: dict[str, Any] = {}
    if alone is not None:  # SQLite: the member's row first, by itself
        written_row = dict((await _run(client, alone[0], bind(alone[1], postgres, values), row))[0])
    rows = await _run(client, counting[0], bind(counting[1], postgres, values), row)
    if not rows:
        if guard is None:
            raise LookupError(f"idea {idea_id} is gone")
        raise Conflict(f"idea {idea_id} changed since it was read")
    found = dict(rows[0])
    if written_row:
        found.update(row_id=written_row["id"], row_version=written_row["version"])
    bumped = _bumped(found)
    pending = event(bumped) if event is not None else None
    return await _settle(client, values, bumped, pending, created_at, changes, rules, metrics, row)


def _bumped(found: Mapping[str, Any]) -> Bump:
    counters = Counters(**{name: int(found[name]) for name in _COUNTER_FIELDS})
    version = found.get("row_version")
    row_id = found.get("row_id")
    return Bump(
        counters,
        bool(found.get("may_cross")),
        int(row_id) if row_id is not None else None,
        int(version) if version is not None else None,
    )


async def _settle(
    client: Any,
    values: dict[str, Any],
    bumped: Bump,
    pending: DomainEvent | None,
    created_at: datetime,
    changes: Mapping[str, int],
    rules: RankRules,
    metrics: tuple[ThresholdMetric, ...],
    row: RowWrite | None,
) -> Bump:
    """With the idea locked: sort keys, supporters, the event (bump's second statement)."""
    postgres = client.capabilities.dialect == "postgres"
    idea_id = values["idea_id"]
    counters, may_cross = bumped.counters, bumped.may_cross
    sort_keys: dict[str, float] = {}
    if not _UNRANKED.issuperset(changes):
        sort_keys = ranks(counters, created_at, rules)
    moved = [name for name in supporters.SUPPORT_COUNTERS if name in changes]
    recount = bool(moved)
    # A member action moves the supporters by its member's step; anything else recounts them.
    step = moved[0] if row is not None and len(moved) == 1 else None
    if step is not None:
        values["support_step"] = changes[step]
    settle = bool(sort_keys) or recount
    if pending is not None and not (postgres and settle):
        text, params = events.insert_statement(pending, postgres)
        inserted = await sql.rows(client, text, params)
        events.attach(pending, int(inserted[0]["id"]))
        pending = None
    if not settle:
        return bumped
    settled, slots = _settle_sql(tuple(sort_keys), recount, step, pending is not None, postgres)
    if pending is not None:
        values.update(events.event_values(pending))
    for name, key in sort_keys.items():
        values[f"rank.{name}"] = key
    values["half_life"] = rules.hot_half_life_hours
    rows = await sql.rows(client, settled, bind(slots, postgres, values))
    if not rows:
        raise Conflict(f"the HOT half-life of idea {idea_id}'s campaign changed")
    fresh = dict(rows[0])
    fresh.pop("id", None)
    if not fresh:
        return bumped
    if pending is not None:
        events.attach(pending, int(fresh.pop("event_id")))
    if recount:
        if metrics and fresh["supporter_value_cents"] != counters.supporter_value_cents:
            may_cross = True  # the SUPPORTER_VALUE decision is record_crossings'
        counters = replace(counters, **{name: int(fresh[name]) for name in fresh})
        bumped = replace(bumped, counters=counters, may_cross=may_cross)
    return bumped


# What a statement written from ``seen`` compares with the locked row: every counter the event's
# counts or a sort key read, and the sort keys (a half-life change rewrites hot_rank alone).
_SEEN_FIELDS = (*_COUNTER_FIELDS[:8], "top_rank", "hot_rank", "controversy", "discover_rank")


async def _bump_at_once(
    client: Any,
    values: dict[str, Any],
    seen: Idea,
    created_at: datetime,
    changes: dict[str, int],
    rules: RankRules,
    guard: Guard | None,
    metrics: tuple[ThresholdMetric, ...],
    row: RowWrite,
    shape: _RowShape,
    event: EventOf,
) -> Bump | None:
    """bump's one statement from ``seen`` (PostgreSQL), or two when the locked row moved since;
    None (nothing written) for a change that recounts the supporters rather than stepping them."""
    moved = [name for name in supporters.SUPPORT_COUNTERS if name in changes]
    if len(moved) > 1:
        return None
    base = counters_of(seen)
    expected = replace(
        base, **{name: getattr(base, name) + delta for name, delta in changes.items()}
    )
    sort_keys: dict[str, float] = {}
    if not _UNRANKED.issuperset(changes):
        sort_keys = ranks(expected, created_at, rules)
    # A member action steps the supporters by its member.
    step = moved[0] if moved else None
    if step is not None:
        values["support_step"] = changes[step]
    for name in _SEEN_FIELDS:
        values[f"seen.{name}"] = getattr(seen, name)
    for name, key in sort_keys.items():
        values[f"rank.{name}"] = key
    values["half_life"] = rules.hot_half_life_hours
    # The row's id and version are the statement's: the event gets them there, and here after.
    pending = event(Bump(expected, False, row.row_id, None))
    values.update(events.event_values(pending))
    text, slots = _at_once_sql(
        shape, tuple(changes), guard, metrics, tuple(sort_keys), step, row.event_key
    )
    rows = await _run(client, text, bind(slots, True, values), row)
    if not rows:
        if guard is None:
            raise LookupError(f"idea {row.idea_id} is gone")
        raise Conflict(f"idea {row.idea_id} changed since it was read")
    found = dict(rows[0])
    bumped = _bumped(found)
    pending.data[row.event_key] = bumped.row_id
    if row.versioned:
        pending.data["version"] = bumped.row_version
    if found["fresh"]:
        events.attach(pending, int(found["event_id"]))
        if metrics and bumped.counters.supporter_value_cents != seen.supporter_value_cents:
            # The SUPPORTER_VALUE decision is record_crossings' (as in _settle).
            bumped = replace(bumped, may_cross=True)
        return bumped
    # The locked row was not the one read: what depends on it is written from the row itself,
    # as when nothing was seen (the supporters were not stepped either).
    return await _settle(
        client, values, bumped, event(bumped), created_at, changes, rules, metrics, row
    )


@cache
def _at_once_sql(
    row: _RowShape,
    changed: tuple[str, ...],
    guard: Guard | None,
    metrics: tuple[ThresholdMetric, ...],
    sort_keys: tuple[str, ...],
    step: str | None,
    event_key: str,
) -> _Statement:
    """Everything a member action writes, in one statement (PostgreSQL): the member's row (w);
    the idea locked by the guarded read, with whether it still holds what was seen (l); the
    counters moved and, only if it does, the sort keys and the supporters' step (u: with nothing
    to move, the locked row as it is); and then the event (ev). Slots: those of
    :func:`_counting_sql` and of :func:`_settle_sql`, and ``seen.<column>`` for each of
    ``_SEEN_FIELDS``."""
    p = Params(True)
    write = _row_sql(row, p)
    where = _guard_where(p, guard)
    fresh = (
        f"({', '.join(_SEEN_FIELDS)})"
        f" = ({', '.join(p(Slot(f'seen.{name}')) for name in _SEEN_FIELDS)})"
    )
    if sort_keys:
        # The half-life the keys were computed with (see _settle_sql).
        fresh += (
            " AND EXISTS (SELECT 1 FROM campaign c WHERE c.id = idea.campaign_id"
            f" AND c.hot_half_life_hours = {p(Slot('half_life'))})"
        )
    if not changed and not metrics:
        # Nothing to move (a discounted vote, engine.vote_reversal): the lock alone, and no row
        # version that changes nothing. The values are the locked row's, not the snapshot's.
        locked = (
            f"SELECT {', '.join(_COUNTER_FIELDS)}, {fresh} AS fresh FROM idea"
            f" WHERE {' AND '.join(where)} FOR NO KEY UPDATE"
        )
        counting = "SELECT * FROM l"
    else:
        locked = (
            f"SELECT id, {fresh} AS fresh FROM idea WHERE {' AND '.join(where)} FOR NO KEY UPDATE"
        )
        counting = _moving_sql(p, changed, metrics, sort_keys, step)
    keys = f"'{event_key}', (SELECT id FROM w)"
    if row[3]:
        keys += ", 'version', (SELECT version FROM w)"
    inserted = events.insert_select_template(p, "u", "u.fresh", f"jsonb_build_object({keys})")
    text = (
        f"WITH w AS ({write}), l AS ({locked}), u AS ({counting}), ev AS ({inserted})"
        " SELECT u.*, (SELECT id FROM w) AS row_id, (SELECT version FROM w) AS row_version,"
        " (SELECT id FROM ev) AS event_id FROM u"
    )
    return text, p.values


def _moving_sql(
    p: Params,
    changed: tuple[str, ...],
    metrics: tuple[ThresholdMetric, ...],
    sort_keys: tuple[str, ...],
    step: str | None,
) -> str:
    """:func:`_at_once_sql`'s UPDATE of the idea locked by ``l``."""
    sets = [f"{name} = idea.{name} + {p(Slot(f'delta.{name}'))}" for name in changed] or [
        "upvotes = idea.upvotes"
    ]
    sets += [
        f"{name} = CASE WHEN l.fresh THEN {p(Slot(f'rank.{name}'))} ELSE idea.{name} END"
        for name in sort_keys
    ]
    if step is not None:
        sets.append(supporters.step_row_sql(step, p, when="l.fresh"))
    returning = ", ".join(f"idea.{name}" for name in _COUNTER_FIELDS) + ", l.fresh"
    if metrics:
        returning += ", " + _may_cross_sql(p, metrics)
    return f"UPDATE idea SET {', '.join(sets)} FROM l WHERE idea.id = l.id RETURNING {returning}"


_KNOWN = frozenset(_COUNTER_FIELDS) - frozenset(supporters.SUPPORTER_FIELDS)
# Counters that move no sort key.
_UNRANKED = frozenset({"comment_count", *supporters.SUPPORTER_FIELDS})
# A member's row: (table, value column, inserted rather than updated, versioned).
_RowShape = tuple[str, str, bool, bool]
# A statement's text and its parameters: slots bound by each call (sql.bind) or constants.
_Statement = tuple[str, list[Any]]


@cache
def _counting_sql(
    row: _RowShape | None,
    changed: tuple[str, ...],
    guard: Guard | None,
    metrics: tuple[ThresholdMetric, ...],
    postgres: bool,
) -> tuple[_Statement | None, _Statement]:
    """The member's row and the guarded counter UPDATE: one statement on PostgreSQL (a WITH),
    two on SQLite (the row's alone first, returned apart). Slots: idea_id, tenant_id, now,
    ``delta.<counter>`` for each of ``changed``, and for the row value, row_id, member_id."""
    p = Params(postgres)
    if row is None:
        return None, (_update_sql(p, changed, guard, metrics), p.values)
    write = _row_sql(row, p)
    if not postgres:
        alone = (write, p.values)
        p = Params(postgres)
        return alone, (_update_sql(p, changed, guard, metrics), p.values)
    text = f"WITH w AS ({write}) " + _update_sql(p, changed, guard, metrics)
    text += ", (SELECT id FROM w) AS row_id, (SELECT version FROM w) AS row_version"
    return None, (text, p.values)


@cache
def _settle_sql(
    sort_keys: tuple[str, ...],
    recount: bool,
    step: str | None,
    with_event: bool,
    postgres: bool,
) -> _Statement:
    """The statement after the lock: sort keys, the supporters (a member action's step on
    ``step``'s counter, otherwise a recount) and (PostgreSQL) the event. Slots: ``rank.<key>``,
    idea_id, tenant_id, half_life, member_id and support_step, and the event's (events)."""
    p = Params(postgres)
    head = f"WITH ev AS ({events.insert_template(p)}) " if with_event else ""
    sets = [f"{name} = {p(Slot(f'rank.{name}'))}" for name in sort_keys]
    if step is not None:
        sets.append(supporters.step_row_sql(step, p))
    elif recount:
        sets.append(supporters.recount_row_sql())
    returning = list(supporters.SUPPORTER_FIELDS) if recount else []
    if with_event:
        returning.append("(SELECT id FROM ev) AS event_id")
    text = (
        f"{head}UPDATE idea SET {', '.join(sets)}"
        f" WHERE id = {p(Slot('idea_id'))} AND tenant_id = {p(Slot('tenant_id'))}"
    )
    if sort_keys:
        # The sort keys hold only while the campaign's HOT half-life is the one they used: this
        # statement comes after the lock, so it sees a change that committed meanwhile, and the
        # unit of work runs again (docs/architecture.md, "Discovery and community health").
        text += (
            " AND EXISTS (SELECT 1 FROM campaign c WHERE c.id = idea.campaign_id"
            f" AND c.hot_half_life_hours = {p(Slot('half_life'))})"
        )
    return f"{text} RETURNING {', '.join(returning or ['id'])}", p.values


async def _run(
    client: Any, text: str, values: list[Any], row: RowWrite | None
) -> Sequence[Mapping[str, Any]]:
    try:
        return await sql.rows(client, text, values)
    except IntegrityError as error:
        if row is not None and row.row_id is None and is_unique_violation(error):
            # The same member's first action on this idea committed meanwhile: start again.
            raise Conflict(f"concurrent first {row.table} on idea {row.idea_id}") from error
        raise


def _row_sql(row: _RowShape, p: Params) -> str:
    table, column, inserted, versioned = row
    if not inserted:
        version = ", version = version + 1" if versioned else ""
        return (
            f"UPDATE {table} SET {column} = {p(Slot('value'))}, updated_at = {p(Slot('now'))}"
            # The tenant checked on the row the key found, never through a tenant-first index
            # (engine.sql.owner; docs/architecture.md, "Reading by a list of keys").
            f"{version} WHERE id = {p(Slot('row_id'))}"
            f" AND {sql.owner()} = {p(Slot('tenant_id'))}"
            f" RETURNING id, {'version' if versioned else 'NULL AS version'}"
        )
    columns = ["tenant_id", "idea_id", "member_id", column, "created_at", "updated_at"]
    values: list[Any] = [Slot(name) for name in ("tenant_id", "idea_id", "member_id", "value")]
    values += [Slot("now"), Slot("now")]
    if versioned:
        columns.append("version")
        values.append(1)
    return (
        f"INSERT INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join(p(v) for v in values)})"
        f" RETURNING id, {'version' if versioned else 'NULL AS version'}"
    )


def _update_sql(
    p: Params,
    changed: tuple[str, ...],
    guard: Guard | None,
    metrics: tuple[ThresholdMetric, ...],
) -> str:
    """The guarded relative UPDATE that takes the idea's lock, returning its counters."""
    # With nothing to add the row is still written: the caller wants its lock and its counters.
    sets = [f"{name} = {name} + {p(Slot(f'delta.{name}'))}" for name in changed] or [
        "upvotes = upvotes"
    ]
    where = _guard_where(p, guard)
    returning = ", ".join(_COUNTER_FIELDS)
    if metrics:
        returning += ", " + _may_cross_sql(p, metrics)
    return f"UPDATE idea SET {', '.join(sets)} WHERE {' AND '.join(where)} RETURNING {returning}"


def _guard_where(p: Params, guard: Guard | None) -> list[str]:
    """The idea by id and tenant, and what the guard says must still hold of it."""
    where = [f"id = {p(Slot('idea_id'))}", f"tenant_id = {p(Slot('tenant_id'))}"]
    if guard is not None:
        if not guard.hidden_ok:
            where.append("NOT hidden")
        if guard.open:
            where += ["NOT frozen", "merged_into_id IS NULL"]
        if guard.statuses_not:
            listed = ", ".join(p(s.value) for s in sorted(guard.statuses_not))
            where.append(f"status NOT IN ({listed})")
        if guard.campaign_open:
            where.append(
                "EXISTS (SELECT 1 FROM campaign WHERE campaign.id = idea.campaign_id AND "
                + open_sql("campaign", p, Slot("now"))
                + ")"
            )
    return where


def _may_cross_sql(p: Params, metrics: tuple[ThresholdMetric, ...]) -> str:
    """Whether a threshold of ``metrics`` is met by the updated row and not yet crossed."""
    return (
        "EXISTS (SELECT 1 FROM threshold t WHERE t.tenant_id = idea.tenant_id"
        " AND t.campaign_id = idea.campaign_id AND t.archived_at IS NULL AND ("
        + " OR ".join(f"(t.metric = {p(m.value)} AND {_REACHED[m]})" for m in metrics)
        + ") AND NOT EXISTS (SELECT 1 FROM threshold_crossing c"
        " WHERE c.idea_id = idea.id AND c.threshold_id = t.id)) AS may_cross"
    )


def _hot_keys_sql(
    campaign_id: int, keys: list[tuple[int, float]], postgres: bool
) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def param(value: Any) -> str:
        values.append(value)
        return f"${len(values)}" if postgres else "?"

    cases = " ".join(
        f"WHEN {param(idea_id)} THEN CAST({param(key)} AS DOUBLE PRECISION)"
        for idea_id, key in keys
    )
    sql = (
        f"UPDATE idea SET hot_rank = CASE id {cases} END"
        f" WHERE tenant_id = {param(current_tenant_id())} AND campaign_id = {param(campaign_id)}"
        f" AND id BETWEEN {param(keys[0][0])} AND {param(keys[-1][0])}"
    )
    return sql, values


HOT_BATCH = 500  # ideas per statement when a campaign's HOT half-life changes


async def rerank_hot(campaign_id: int, rules: RankRules) -> int:
    """Recompute the stored HOT key of every idea of a campaign, in batches of ``HOT_BATCH``.

    Runs in the caller's transaction, the one that changed the half-life: each batch locks its
    ideas (ascending ids, FOR NO KEY UPDATE: docs/architecture.md, "Lock order") and reads their
    latest net votes, so a vote committed meanwhile is not overwritten with older counts.
    """
    client: Any = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    after, done = 0, 0
    while True:
        batch = (
            await Idea.filter(campaign_id=campaign_id, id__gt=after)
            .order_by("id")
            .limit(HOT_BATCH)
            .select_for_update(no_key=True)
            .values_list("id", "net_votes", "created_at")
        )
        if not batch:
            return done
        keys = [(i, hot_rank(net, created, rules.hot_half_life_hours)) for i, net, created in batch]
        await client.execute_query(*_hot_keys_sql(campaign_id, keys, postgres))
        done += len(batch)
        after = batch[-1][0]


def counters_of(idea: Idea) -> Counters:
    return Counters(**{name: getattr(idea, name) for name in _COUNTER_FIELDS})


@dataclass(frozen=True)
class Outcome:
    """What a vote, score or pledge did: the idea's counters after it, and thresholds it crossed."""

    idea: Idea
    counters: Counters
    value: int
    changed: bool
    crossed: list[Threshold] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The idea as it stands after the action, so callers need not read it again (a plain
        # loop: dataclasses.asdict deep-copies, a measurable share of a vote's CPU).
        counters, idea = self.counters, self.idea
        if idea._await_when_save:  # Tortoise's __setattr__ also drops a pending default
            for name in _COUNTER_FIELDS:
                setattr(idea, name, getattr(counters, name))
            return
        # Plain columns (no relation to validate): what Tortoise's __setattr__ would store.
        idea.__dict__.update({name: getattr(counters, name) for name in _COUNTER_FIELDS})
