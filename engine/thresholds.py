"""Campaign thresholds and their crossings.

A crossing is checked right after the counter UPDATE that may cause it, in the same transaction, so
concurrent votes on one idea are serialised by the idea's row lock and see each other's counts. The
unique (idea, threshold) row makes "once per idea and threshold, ever" hold even so; its event is
written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from engine import events, payloads
from engine.clock import iso, utcnow
from engine.errors import ErrorCode, FieldError
from engine.events import EventType
from engine.models.campaigns import Campaign, CampaignMode, Threshold, ThresholdMetric
from engine.models.ideas import Idea, ThresholdCrossing
from engine.models.interactions import Pledge, Vote
from engine.models.members import Member
from engine.ranking import Counters

MAX_THRESHOLDS = 20
VOTE_METRICS = frozenset({ThresholdMetric.NET_VOTES, ThresholdMetric.UPVOTES})
PLEDGE_METRICS = frozenset({ThresholdMetric.PLEDGERS, ThresholdMetric.PLEDGED_QUANTITY})
SCORE_METRICS = frozenset({ThresholdMetric.AVERAGE_SCORE})
# Moves whenever upvotes or pledges do (and when a supporter's customer value changes).
SUPPORTER_METRICS = frozenset({ThresholdMetric.SUPPORTER_VALUE})
# Customer value is in cents: up to 100 billion dollars.
_MAX_VALUE_CENTS = 10_000_000_000_000
# Webhook bodies stay under 20 kB: lists of people are cut to fit and say so.
_PAYLOAD_BUDGET = 18_000


@dataclass(frozen=True)
class ThresholdSpec:
    metric: ThresholdMetric
    value: float
    min_count: int = 0
    name: str = ""


def validate_thresholds(specs: Sequence[ThresholdSpec], mode: CampaignMode) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(specs) > MAX_THRESHOLDS:
        errors.append(
            FieldError("thresholds", ErrorCode.INVALID, f"at most {MAX_THRESHOLDS} thresholds")
        )
    for index, spec in enumerate(specs):
        field = f"thresholds.{index}"
        if spec.metric in SCORE_METRICS:
            if mode != CampaignMode.CONTEST:
                errors.append(
                    FieldError(
                        field,
                        ErrorCode.WRONG_CAMPAIGN_MODE,
                        "AVERAGE_SCORE needs a CONTEST campaign",
                    )
                )
            if not 1 <= spec.value <= 5:
                errors.append(
                    FieldError(
                        field,
                        ErrorCode.OUT_OF_RANGE,
                        "an average score threshold is between 1 and 5",
                    )
                )
        elif spec.metric in VOTE_METRICS and mode != CampaignMode.IDEAS:
            errors.append(
                FieldError(
                    field,
                    ErrorCode.WRONG_CAMPAIGN_MODE,
                    f"{spec.metric.value} needs an IDEAS campaign",
                )
            )
        elif spec.metric in SUPPORTER_METRICS:
            if spec.value < 1 or spec.value != int(spec.value) or spec.value > _MAX_VALUE_CENTS:
                errors.append(
                    FieldError(
                        field,
                        ErrorCode.OUT_OF_RANGE,
                        "a supporter value threshold is a whole number of cents from 1",
                    )
                )
        elif spec.value < 1 or spec.value != int(spec.value) or spec.value > 10_000_000:
            errors.append(
                FieldError(
                    field, ErrorCode.OUT_OF_RANGE, "a count threshold is a whole number from 1"
                )
            )
        if not 0 <= spec.min_count <= 1_000_000:
            errors.append(FieldError(field, ErrorCode.OUT_OF_RANGE, "minCount must be >= 0"))
        if len(spec.name) > 100:
            errors.append(FieldError(field, ErrorCode.TOO_LONG, "a threshold name is 100 chars"))
    return errors


def _key(metric: ThresholdMetric, value: float, min_count: int) -> tuple[str, float, int]:
    return (metric.value, float(value), int(min_count))


async def replace_thresholds(campaign: Campaign, specs: Iterable[ThresholdSpec]) -> None:
    """Make the active set equal ``specs``; unchanged thresholds keep their id and crossings."""
    wanted = {_key(s.metric, s.value, s.min_count): s for s in specs}
    active = await Threshold.filter(campaign_id=campaign.id, archived_at=None)
    kept = set()
    for threshold in active:
        key = _key(threshold.metric, threshold.value, threshold.min_count)
        if key in wanted and key not in kept:
            kept.add(key)
            if threshold.name != wanted[key].name:
                await Threshold.filter(id=threshold.id).update(name=wanted[key].name)
        else:
            await Threshold.filter(id=threshold.id).update(archived_at=utcnow())
    for key, spec in wanted.items():
        if key not in kept:
            await Threshold.create(
                tenant_id=campaign.tenant_id,
                campaign_id=campaign.id,
                metric=spec.metric,
                value=float(spec.value),
                min_count=spec.min_count,
                name=spec.name,
            )


def metric_value(threshold: Threshold, counters: Counters) -> float | None:
    metric = threshold.metric
    if metric == ThresholdMetric.NET_VOTES:
        return counters.net_votes
    if metric == ThresholdMetric.UPVOTES:
        return counters.upvotes
    if metric == ThresholdMetric.PLEDGERS:
        return counters.pledgers
    if metric == ThresholdMetric.PLEDGED_QUANTITY:
        return counters.pledged_quantity
    if metric == ThresholdMetric.SUPPORTER_VALUE:
        return counters.supporter_value_cents
    if counters.score_count == 0 or counters.score_count < threshold.min_count:
        return None
    return counters.score_sum / counters.score_count


async def record_crossings(
    idea: Idea, campaign: Campaign, counters: Counters, metrics: frozenset[ThresholdMetric]
) -> list[Threshold]:
    """Record each threshold ``idea`` now meets for the first time; emit one event per crossing."""
    if metrics & (VOTE_METRICS | PLEDGE_METRICS):
        metrics = metrics | SUPPORTER_METRICS  # supporters move with upvotes and pledges
    active = await Threshold.filter(
        campaign_id=campaign.id, archived_at=None, metric__in=list(metrics)
    )
    reached = [t for t in active if (v := metric_value(t, counters)) is not None and v >= t.value]
    if not reached:
        return []
    already = set(
        await ThresholdCrossing.filter(
            idea_id=idea.id, threshold_id__in=[t.id for t in reached]
        ).values_list("threshold_id", flat=True)
    )
    crossed: list[Threshold] = []
    for threshold in reached:
        if threshold.id in already:
            continue
        try:
            async with in_transaction():  # a savepoint: a lost race must not abort the vote
                await ThresholdCrossing.create(idea_id=idea.id, threshold_id=threshold.id)
        except IntegrityError:
            continue
        crossed.append(threshold)
    for threshold in crossed:
        data = await _crossing_payload(idea, campaign, threshold, counters)
        await events.record(
            EventType.IDEA_THRESHOLD_REACHED,
            data,
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=idea.author_id,
        )
    return crossed


async def _crossing_payload(
    idea: Idea, campaign: Campaign, threshold: Threshold, counters: Counters
) -> dict[str, Any]:
    """What a store needs to open a pre-order and a CRM needs to tag the customers behind it."""
    pledges = (
        await Pledge.filter(idea_id=idea.id, quantity__gt=0)
        .order_by("id")
        .values("member_id", "quantity")
    )
    upvoter_ids = (
        await Vote.filter(idea_id=idea.id, value=1)
        .order_by("id")
        .values_list("member_id", flat=True)
    )
    member_ids = {p["member_id"] for p in pledges} | set(upvoter_ids) | {idea.author_id}
    members = {m.id: m for m in await Member.filter(id__in=list(member_ids))}
    supporter_ids = list(dict.fromkeys([*upvoter_ids, *(p["member_id"] for p in pledges)]))
    pledge_rows = [
        {**payloads.member_ref(members[p["member_id"]], with_email=True), "quantity": p["quantity"]}
        for p in pledges
    ]
    supporters = [payloads.member_ref(members[i], with_email=True) for i in supporter_ids]
    data: dict[str, Any] = {
        "idea": payloads.idea(idea, campaign, members[idea.author_id], counters),
        "threshold": payloads.threshold(threshold),
        "reachedAt": iso(utcnow()),
        "counts": payloads.counts(counters),
        "pledges": pledge_rows,
        "pledgesTotal": len(pledge_rows),
        "supporters": supporters,
        "supportersTotal": len(supporters),
        "truncated": False,
    }
    while len(orjson.dumps(data)) > _PAYLOAD_BUDGET and (data["pledges"] or data["supporters"]):
        data["pledges"] = data["pledges"][: len(data["pledges"]) // 2]
        data["supporters"] = data["supporters"][: len(data["supporters"]) // 2]
        data["truncated"] = True
    return data
