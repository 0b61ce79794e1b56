"""Sort keys for idea orderings, recomputed whenever an idea's counters change.

TOP is the exploitative order: in IDEAS campaigns the Wilson lower bound of the upvote share (95 %),
so 40 up / 2 down outranks 3 up / 0 down and a controversial 100 / 90 does not win on volume; in
CONTEST campaigns a Bayesian average score (so one 5-star score does not beat fifty 4.8s). HOT is
Reddit's shape, log-scaled net votes plus age, with a half-life per campaign
(``Campaign.hot_half_life_hours``): an idea needs twice the net votes to keep level with one a
half-life younger, so new ideas get their chance and early winners do not lock in. The default,
about 3.76 hours, is Reddit's 12.5 hours per tenfold of votes. DISCOVER's stored key favours recent
ideas that few have seen yet (the DISCOVER order itself samples, engine.discovery).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from engine.models.campaigns import HOT_HALF_LIFE_HOURS, Campaign, CampaignMode

_EPOCH = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
_HOT_DECAY_SECONDS = 45_000  # 12.5 hours per order of magnitude of votes (DISCOVER's key)
_LOG10_2 = math.log10(2)
HOT_HALF_LIFE_BOUNDS = (0.25, 8760.0)  # a quarter of an hour to a year (updateCampaign checks)
_PRIOR_SCORE = 3.0
_PRIOR_WEIGHT = 5


class IdeaOrder(str, Enum):
    TOP = "TOP"
    HOT = "HOT"
    NEW = "NEW"
    CONTROVERSIAL = "CONTROVERSIAL"
    DISCOVER = "DISCOVER"
    PLEDGES = "PLEDGES"
    # Opt-in per campaign (Campaign.rank_by_supporter_value); never part of TOP.
    SUPPORTER_VALUE = "SUPPORTER_VALUE"


# The column each order sorts by (descending, ties broken by id descending).
ORDER_COLUMN: dict[IdeaOrder, str] = {
    IdeaOrder.TOP: "top_rank",
    IdeaOrder.HOT: "hot_rank",
    IdeaOrder.NEW: "created_at",
    IdeaOrder.CONTROVERSIAL: "controversy",
    IdeaOrder.DISCOVER: "discover_rank",
    IdeaOrder.PLEDGES: "pledged_quantity",
    IdeaOrder.SUPPORTER_VALUE: "supporter_value_cents",
}


@dataclass(frozen=True)
class Counters:
    upvotes: int
    downvotes: int
    net_votes: int
    score_sum: int
    score_count: int
    pledgers: int
    pledged_quantity: int
    comment_count: int
    # Distinct supporters (upvote or pledge), counted once each: see engine.supporters.
    supporter_count: int = 0
    supporter_value_cents: int = 0
    supporter_verified_count: int = 0


@dataclass(frozen=True)
class RankRules:
    """What a campaign decides about its ideas' sort keys."""

    contest: bool = False
    hot_half_life_hours: float = HOT_HALF_LIFE_HOURS


def rules_of(campaign: Campaign) -> RankRules:
    return RankRules(
        contest=campaign.mode == CampaignMode.CONTEST,
        hot_half_life_hours=campaign.hot_half_life_hours,
    )


def ranks(counters: Counters, created_at: datetime, rules: RankRules) -> dict[str, float]:
    return {
        "top_rank": top_rank(counters, contest=rules.contest),
        "hot_rank": hot_rank(counters.net_votes, created_at, rules.hot_half_life_hours),
        "controversy": controversy(counters.upvotes, counters.downvotes),
        "discover_rank": discover_rank(counters.upvotes + counters.downvotes, created_at),
    }


_WILSON_Z = 1.959964  # 95 % two-sided


def wilson_lower_bound(upvotes: int, downvotes: int) -> float:
    """Lower bound of the 95 % Wilson score interval of the upvote share; 0 without votes."""
    n = upvotes + downvotes
    if n <= 0 or upvotes <= 0:
        return 0.0
    z2 = _WILSON_Z * _WILSON_Z
    p = upvotes / n
    centre = p + z2 / (2 * n)
    margin = _WILSON_Z * math.sqrt((p * (1 - p) + z2 / (4 * n)) / n)
    return (centre - margin) / (1 + z2 / n)


def top_rank(counters: Counters, *, contest: bool) -> float:
    if not contest:
        return round(wilson_lower_bound(counters.upvotes, counters.downvotes), 9)
    return round(
        (_PRIOR_SCORE * _PRIOR_WEIGHT + counters.score_sum)
        / (_PRIOR_WEIGHT + counters.score_count),
        6,
    )


def hot_rank(
    net_votes: int, created_at: datetime, half_life_hours: float = HOT_HALF_LIFE_HOURS
) -> float:
    """log10 of the net votes (signed) plus the age term: one half-life later adds log10(2),
    worth a doubling of the votes."""
    order = math.log10(max(abs(net_votes), 1))
    sign = (net_votes > 0) - (net_votes < 0)
    age = (created_at.timestamp() - _EPOCH) / (half_life_hours * 3600) * _LOG10_2
    return round(sign * order + age, 7)


def controversy(upvotes: int, downvotes: int) -> float:
    if upvotes <= 0 or downvotes <= 0:
        return 0.0
    balance = min(upvotes, downvotes) / max(upvotes, downvotes)
    return round(float((upvotes + downvotes) ** balance), 6)


def discover_rank(total_votes: int, created_at: datetime) -> float:
    return round(
        (created_at.timestamp() - _EPOCH) / _HOT_DECAY_SECONDS - 2 * math.log10(1 + total_votes), 7
    )
