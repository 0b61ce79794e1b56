"""Idea counters change only here: one relative UPDATE in the caller's transaction, read back by it.

The UPDATE takes the idea's row lock (PostgreSQL; SQLite runs it inside its single writer), so the
counters it returns and the sort keys written from them are this transaction's: no lost update, and
threshold checks see a consistent value. It is the last lock a member action takes
(docs/architecture.md, "Lock order"): it comes after every statement that does not need the idea
locked, and only the sort keys, the event and (rarely) a threshold crossing follow it before COMMIT.

Callers that read the idea without a lock pass a :class:`Guard`: the states their admission relied
on (visible, not merged, not frozen, not in some statuses) are re-checked by the UPDATE itself, and
when they no longer hold the unit of work is run again (``engine.conflicts``), so the rules answer
from the state that won.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections

from engine import supporters
from engine.conflicts import Conflict
from engine.models.campaigns import Threshold, ThresholdMetric
from engine.models.ideas import Idea, IdeaStatus
from engine.ranking import Counters, RankRules, hot_rank, ranks
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
    ``statuses_not``.
    """

    open: bool = True
    statuses_not: frozenset[IdeaStatus] = frozenset()
    hidden_ok: bool = False


@dataclass(frozen=True)
class Bump:
    counters: Counters
    # A threshold of the given metrics is met and not yet recorded as crossed for this idea.
    may_cross: bool = False


async def bump(
    idea_id: int,
    created_at: datetime,
    deltas: Mapping[str, int],
    *,
    rules: RankRules,
    guard: Guard | None = None,
    metrics: Iterable[ThresholdMetric] = (),
) -> Bump:
    unknown = set(deltas) - set(_COUNTER_FIELDS) | (set(deltas) & set(supporters.SUPPORTER_FIELDS))
    if unknown:
        raise ValueError(f"unknown counters {sorted(unknown)}")
    changes = {name: int(delta) for name, delta in deltas.items() if delta}
    client: Any = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    values: list[Any] = []

    def param(value: Any) -> str:
        values.append(value)
        return f"${len(values)}" if postgres else "?"

    # With nothing to add the row is still written: the caller wants its lock and its counters.
    sets = [f"{name} = {name} + {param(delta)}" for name, delta in changes.items()] or [
        "upvotes = upvotes"
    ]
    where = [f"id = {param(idea_id)}", f"tenant_id = {param(current_tenant_id())}"]
    if guard is not None:
        if not guard.hidden_ok:
            where.append("NOT hidden")
        if guard.open:
            where += ["NOT frozen", "merged_into_id IS NULL"]
        if guard.statuses_not:
            listed = ", ".join(param(s.value) for s in sorted(guard.statuses_not))
            where.append(f"status NOT IN ({listed})")
    returning = ", ".join(_COUNTER_FIELDS)
    reached = [_REACHED[m] for m in sorted(set(metrics))]
    if reached:
        returning += (
            ", EXISTS (SELECT 1 FROM threshold t WHERE t.tenant_id = idea.tenant_id"
            " AND t.campaign_id = idea.campaign_id AND t.archived_at IS NULL AND ("
            + " OR ".join(
                f"(t.metric = {param(m.value)} AND {reached[i]})"
                for i, m in enumerate(sorted(set(metrics)))
            )
            + ") AND NOT EXISTS (SELECT 1 FROM threshold_crossing c"
            " WHERE c.idea_id = idea.id AND c.threshold_id = t.id)) AS may_cross"
        )
    sql = f"UPDATE idea SET {', '.join(sets)} WHERE {' AND '.join(where)} RETURNING {returning}"
    rows = await client.execute_query_dict(sql, values)
    if not rows:
        if guard is None:
            raise LookupError(f"idea {idea_id} is gone")
        raise Conflict(f"idea {idea_id} changed since it was read")
    row = dict(rows[0])
    may_cross = bool(row.get("may_cross"))
    if changes.keys() & supporters.SUPPORT_COUNTERS:
        # Recounted by a statement of its own once the idea is locked: its snapshot sees every
        # member value committed before the lock (engine.supporters).
        recount = supporters.recount_sql()
        fresh = await client.execute_query_dict(
            f"UPDATE idea SET {', '.join(f'{n} = {q}' for n, q in recount.items())}"
            f" WHERE id = {'$1' if postgres else '?'} AND tenant_id = {'$2' if postgres else '?'}"
            f" RETURNING {', '.join(recount)}",
            [idea_id, current_tenant_id()],
        )
        if metrics and fresh[0]["supporter_value_cents"] != row["supporter_value_cents"]:
            may_cross = True  # the SUPPORTER_VALUE decision is record_crossings'
        row.update(fresh[0])
    counters = Counters(**{name: int(row[name]) for name in _COUNTER_FIELDS})
    if set(changes) - {"comment_count", *supporters.SUPPORTER_FIELDS}:
        await _write_ranks(client, idea_id, ranks(counters, created_at, rules), rules)
    return Bump(counters, may_cross)


async def _write_ranks(
    client: Any, idea_id: int, keys: Mapping[str, float], rules: RankRules
) -> None:
    """Write the sort keys, provided the campaign's HOT half-life is still the one they used.

    A statement of its own after the counter UPDATE, so (PostgreSQL, READ COMMITTED) it sees a
    half-life change that committed while this transaction waited for the idea's lock: then the
    keys are stale and the unit of work runs again (docs/architecture.md, "Discovery and community
    health"). The recompute of that change locks the campaign's ideas, so one of the two waits.
    """
    postgres = client.capabilities.dialect == "postgres"
    values: list[Any] = [*keys.values(), idea_id, current_tenant_id(), rules.hot_half_life_hours]
    marks = [f"${i}" if postgres else "?" for i in range(1, len(values) + 1)]
    sets = ", ".join(f"{name} = {marks[i]}" for i, name in enumerate(keys))
    n = len(keys)
    count, _ = await client.execute_query(
        f"UPDATE idea SET {sets} WHERE id = {marks[n]} AND tenant_id = {marks[n + 1]}"
        " AND EXISTS (SELECT 1 FROM campaign c WHERE c.id = idea.campaign_id"
        f" AND c.hot_half_life_hours = {marks[n + 2]})",
        values,
    )
    if not count:
        raise Conflict(f"the HOT half-life of idea {idea_id}'s campaign changed")


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
        # The idea as it stands after the action, so callers need not read it again.
        for name, value in asdict(self.counters).items():
            setattr(self.idea, name, value)
