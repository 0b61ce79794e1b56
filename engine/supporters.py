"""Supporters: the distinct members behind an idea (an upvote or a pledge, each member once), how
many of them are verified customers, and their summed customer value.

The three numbers live on the idea row. A vote or pledge steps them by its own member (one
probe of the member's other kind of row, :func:`step_row_sql`); everything else recounts them from
the vote and pledge rows (a vote found to be serial voting, engine.vote_reversal, supports nothing,
as it counts nowhere else). A member who upvoted and pledged is one supporter, and because a merge
copies rows onto the target only for members not already there (engine.merges), the target's own
rows already count each member once across merged ideas; unmerge takes the copies back and the
recount follows. Step and recount ride in the counter UPDATE that a vote, pledge or merge already
makes (engine.counters.bump), so they cost no extra statement (docs/architecture.md,
"Integrations"). A change of a member's value or verified flag (upsertMember, imports,
inbound webhooks) recounts the ideas that member supports, after locking those idea rows, in the
transaction that changed the member. The member's gate (engine.member_gate) is the common point with a
concurrent vote or pledge: the action holds it shared from its first statement, the change takes
it before it looks for the ideas, so the change waits for the action and then finds its row, or
the action waits for the change and steps by the new value; either way no stale sum is left behind
(docs/architecture.md, "Lock order").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pypika_tortoise.terms import Term
from tortoise.expressions import Expression, RawSQL, ResolveContext, ResolveResult

from engine import member_gate
from engine.models.campaigns import Campaign, ThresholdMetric
from engine.models.ideas import Idea
from engine.models.interactions import Pledge, Vote
from engine.ranking import Counters
from engine.sql import Params, Slot

# Counter deltas that can change who supports an idea.
SUPPORT_COUNTERS = frozenset({"upvotes", "pledgers"})
SUPPORTER_FIELDS = ("supporter_count", "supporter_value_cents", "supporter_verified_count")

# Correlated to the idea row being updated; the same text runs on PostgreSQL and SQLite.
_SUPPORTER_IDS = (
    'SELECT v."member_id" FROM "vote" v WHERE v."idea_id" = "idea"."id" AND v."value" = 1 '
    'AND v."discounted_by" IS NULL '
    'UNION SELECT p."member_id" FROM "pledge" p WHERE p."idea_id" = "idea"."id" '
    'AND p."quantity" > 0'
)
_AGGREGATES = {
    "supporter_count": "COUNT(*)",
    "supporter_value_cents": 'COALESCE(SUM(m."customer_value_cents"), 0)',
    "supporter_verified_count": 'COALESCE(SUM(CASE WHEN m."verified" THEN 1 ELSE 0 END), 0)',
}


class _Raw(Expression):
    def __init__(self, sql: str) -> None:
        self.sql = sql

    def resolve(self, resolve_context: ResolveContext) -> ResolveResult:
        term: Term = RawSQL(self.sql)
        return ResolveResult(term=term)


def recount_sql() -> dict[str, str]:
    """The recount as SQL per column, for UPDATEs of ``idea`` written by hand (engine.counters)."""
    return {
        name: f'(SELECT {agg} FROM "member" m WHERE m."id" IN ({_SUPPORTER_IDS}))'
        for name, agg in _AGGREGATES.items()
    }


def recount_row_sql() -> str:
    """The recount as one SET term (``(a, b, c) = (SELECT ...)``, PostgreSQL and SQLite >= 3.15)
    for an UPDATE of ``idea`` written by hand: the supporters' union is read once, not once per
    column (engine.counters)."""
    columns = ", ".join(SUPPORTER_FIELDS)
    aggregates = ", ".join(_AGGREGATES[name] for name in SUPPORTER_FIELDS)
    return f'({columns}) = (SELECT {aggregates} FROM "member" m WHERE m."id" IN ({_SUPPORTER_IDS}))'


# Whether the member (placeholder ``{m}``) supports the idea being updated through the other kind
# of row than the one whose counter moved: a pledge for a vote's step, an upvote for a pledge's.
_OTHER_SUPPORT = {
    "upvotes": (
        'EXISTS (SELECT 1 FROM "pledge" p WHERE p."idea_id" = "idea"."id" AND p."member_id" = {m} '
        'AND p."quantity" > 0)'
    ),
    "pledgers": (
        'EXISTS (SELECT 1 FROM "vote" v WHERE v."idea_id" = "idea"."id" AND v."member_id" = {m} '
        'AND v."value" = 1 AND v."discounted_by" IS NULL)'
    ),
}


def step_row_sql(counter: str, p: Params, when: str | None = None) -> str:
    """One member's step as one SET term, for the member action that moved ``counter`` (one of
    :data:`SUPPORT_COUNTERS`) by the slot ``support_step`` (+1: began supporting through this
    kind of row, -1: stopped): the supporters move by that member (slot ``member_id``) alone,
    unless their other kind of row keeps them a supporter.

    The same numbers as :func:`recount_row_sql`, without reading every supporter: the others'
    rows are as the last recount or step left them, and each member action steps by its member
    only, under the idea's row lock (docs/architecture.md, "One vote, end to end"). The statement
    must come after that lock was taken, so that its snapshot sees the other kind of row as
    committed by any action that held the lock before. With ``when`` (an SQL condition), the
    step is taken only where it holds (engine.counters, a vote written at once)."""
    other = _OTHER_SUPPORT[counter].format(m=p(Slot("member_id")))
    if when is not None:
        other = f"NOT ({when}) OR {other}"
    step = p(Slot("support_step"))
    columns = ", ".join(SUPPORTER_FIELDS)
    return (
        f"({columns}) = (SELECT idea.supporter_count + s.d,"
        ' idea.supporter_value_cents + s.d * COALESCE(m."customer_value_cents", 0),'
        ' idea.supporter_verified_count + s.d * (CASE WHEN m."verified" THEN 1 ELSE 0 END)'
        f" FROM (SELECT CASE WHEN {other} THEN 0 ELSE {step} END AS d) s"
        f' LEFT JOIN "member" m ON m."id" = {p(Slot("member_id"))})'
    )


def recount() -> dict[str, Expression]:
    """SET terms for an UPDATE of ``idea`` rows that recount each row's supporters."""
    return {name: _Raw(sql) for name, sql in recount_sql().items()}


@dataclass(frozen=True)
class Supporters:
    count: int
    customer_value_cents: int
    verified_count: int

    @classmethod
    def of(cls, idea: Idea) -> Supporters:
        return cls(idea.supporter_count, idea.supporter_value_cents, idea.supporter_verified_count)


async def supported_idea_ids(member_ids: Iterable[int]) -> list[int]:
    ids = list(member_ids)
    if not ids:
        return []
    voted: list[int] = await Vote.filter(member_id__in=ids, value=1).values_list(
        "idea_id", flat=True
    )  # type: ignore[assignment]
    pledged: list[int] = await Pledge.filter(member_id__in=ids, quantity__gt=0).values_list(
        "idea_id", flat=True
    )  # type: ignore[assignment]
    return sorted({int(i) for i in (*voted, *pledged)})


async def refresh_for_members(member_ids: Iterable[int]) -> int:
    """Recount the ideas these members support; call inside the transaction that changed them.

    Returns how many ideas were recounted. Ideas newly over a SUPPORTER_VALUE threshold record
    their crossing (and its event) here too.
    """
    ids = list(member_ids)
    # First wait for these members' votes and pledges in flight, so their rows are found below,
    # and hold off the ones to come until this commits (engine.member_gate).
    await member_gate.hold(ids)
    return await refresh_ideas(await supported_idea_ids(ids))


async def refresh_ideas(idea_ids: list[int]) -> int:
    """Recount these ideas (see :func:`refresh_for_members`); the caller found which."""
    from engine.thresholds import SUPPORTER_METRICS, record_crossings  # thresholds imports us

    if not idea_ids:
        return 0
    # Lock in id order, as every other idea writer does: no deadlock with votes and merges. The
    # lock must be taken by its own statement (whole rows: Tortoise's values_list() drops FOR
    # UPDATE): PostgreSQL's next statement then sees every vote committed before it, where an
    # UPDATE that waits for the row lock would recount from the snapshot it started with.
    await Idea.filter(id__in=idea_ids).order_by("id").select_for_update()
    await Idea.filter(id__in=idea_ids).update(**recount())
    ideas = await Idea.filter(id__in=idea_ids).order_by("id")
    campaign_ids = {i.campaign_id for i in ideas}
    wanted = set(
        await Campaign.filter(
            id__in=list(campaign_ids),
            thresholds__metric=ThresholdMetric.SUPPORTER_VALUE,
            thresholds__archived_at=None,
        ).values_list("id", flat=True)
    )
    if wanted:
        campaigns = {c.id: c for c in await Campaign.filter(id__in=list(wanted))}
        for idea in ideas:
            if idea.campaign_id in campaigns and idea.merged_into_id is None:
                await record_crossings(
                    idea, campaigns[idea.campaign_id], counters_of(idea), SUPPORTER_METRICS
                )
    return len(ideas)


def counters_of(idea: Idea) -> Counters:
    return Counters(
        upvotes=idea.upvotes,
        downvotes=idea.downvotes,
        net_votes=idea.net_votes,
        score_sum=idea.score_sum,
        score_count=idea.score_count,
        pledgers=idea.pledgers,
        pledged_quantity=idea.pledged_quantity,
        comment_count=idea.comment_count,
        supporter_count=idea.supporter_count,
        supporter_value_cents=idea.supporter_value_cents,
        supporter_verified_count=idea.supporter_verified_count,
    )
