"""Reputation rules: documented defaults, per-tenant overrides, validation.

Defaults follow Stack Overflow's and Salesforce Ideas' numbers (docs/architecture.md, "Reputation
defaults"). A tenant stores only what it overrides (``Tenant.reputation_rules``), so a default
changed in a later release reaches every tenant that did not choose otherwise. Rule changes apply to activity from then on: the ledger keeps
the points it booked, which is what makes ``rebuild`` agree with the totals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine import events
from engine.errors import DomainError, ErrorCode, FieldError
from engine.models.members import Member
from engine.models.tenants import Tenant
from engine.tenancy import current_tenant_id
from engine.text import clean
from engine.unset import UNSET, Maybe

log = logging.getLogger(__name__)

MAX_POINTS = 10_000
MAX_LEVELS = 20
LEVEL_NAME_MAX = 50


@dataclass(frozen=True)
class LevelRule:
    threshold: int
    name: str


DEFAULT_LEVELS: tuple[LevelRule, ...] = (
    LevelRule(0, "Newcomer"),
    LevelRule(15, "Contributor"),
    LevelRule(100, "Regular"),
    LevelRule(500, "Insider"),
    LevelRule(2_000, "Champion"),
    LevelRule(10_000, "Legend"),
)

# Point rules: (name, lowest, highest). Downvotes cost points, everything else earns them.
POINT_RULES: tuple[tuple[str, int, int], ...] = (
    ("idea_submitted", 0, MAX_POINTS),
    ("upvote_received", 0, MAX_POINTS),
    ("downvote_received", -MAX_POINTS, 0),
    ("vote_cast", 0, MAX_POINTS),
    ("comment", 0, MAX_POINTS),
    ("idea_accepted", 0, MAX_POINTS),
    ("idea_shipped", 0, MAX_POINTS),
    ("campaign_winner", 0, MAX_POINTS),
)
# Other numeric rules: (name, lowest, highest).
LIMIT_RULES: tuple[tuple[str, int, int], ...] = (
    ("daily_vote_cap", 0, 1_000_000),
    ("serial_vote_limit", 1, 1_000),
    ("flag_min_level", 0, MAX_LEVELS - 1),
    ("idea_votes_badge", 1, 1_000_000),
    ("auto_hide_after", 1, 1_000),
)


@dataclass(frozen=True)
class Rules:
    idea_submitted: int = 5
    upvote_received: int = 10
    downvote_received: int = -2
    vote_cast: int = 1
    comment: int = 2
    idea_accepted: int = 50
    idea_shipped: int = 100
    campaign_winner: int = 200
    # Net points from votes (received and cast) one member can gain per UTC day.
    daily_vote_cap: int = 200
    # More than this many votes from one member on one author's ideas within 24 h is serial voting.
    serial_vote_limit: int = 5
    # The level a member needs to flag ideas.
    flag_min_level: int = 1
    # Upvotes an idea needs for its author to get the "idea reached N votes" badge.
    idea_votes_badge: int = 10
    # Distinct members whose open SPAM or ABUSE reports hide an idea or comment pending review.
    auto_hide_after: int = 3
    levels: tuple[LevelRule, ...] = field(default=DEFAULT_LEVELS)

    def overrides(self) -> dict[str, Any]:
        """What differs from the defaults, as stored in ``Tenant.reputation_rules``."""
        default = Rules()
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out[f.name] = (
                    [{"threshold": lv.threshold, "name": lv.name} for lv in value]
                    if f.name == "levels"
                    else value
                )
        return out


DEFAULT_RULES = Rules()


def parse_rules(stored: Any) -> Rules:
    """The tenant's stored overrides on top of the defaults; anything unreadable keeps its default."""
    if not isinstance(stored, dict):
        return DEFAULT_RULES
    values: dict[str, Any] = {}
    for name, low, high in (*POINT_RULES, *LIMIT_RULES):
        value = stored.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            values[name] = value
    levels = _parse_levels(stored.get("levels"))
    if levels is not None:
        values["levels"] = levels
    rules = replace(DEFAULT_RULES, **values)
    if rules.flag_min_level >= len(rules.levels):
        rules = replace(rules, flag_min_level=len(rules.levels) - 1)
    return rules


def _parse_levels(raw: Any) -> tuple[LevelRule, ...] | None:
    if not isinstance(raw, list):
        return None
    try:
        levels = tuple(LevelRule(int(item["threshold"]), str(item["name"])) for item in raw)
    except (KeyError, TypeError, ValueError):
        log.warning("ignoring unreadable stored levels %r", raw)
        return None
    return levels if not _level_errors(levels) else None


async def rules_for_tenant(tenant_id: int | None = None) -> Rules:
    tenant_id = tenant_id if tenant_id is not None else current_tenant_id()
    stored = await Tenant.filter(id=tenant_id).values_list("reputation_rules", flat=True)
    return parse_rules(stored[0] if stored else None)


@dataclass(frozen=True)
class RulesPatch:
    """A partial change: UNSET leaves a rule as it is; ``reset`` starts from the defaults."""

    points: dict[str, int] = field(default_factory=dict)
    daily_vote_cap: Maybe[int] = UNSET
    serial_vote_limit: Maybe[int] = UNSET
    flag_min_level: Maybe[int] = UNSET
    idea_votes_badge: Maybe[int] = UNSET
    auto_hide_after: Maybe[int] = UNSET
    levels: Maybe[tuple[LevelRule, ...]] = UNSET
    reset: bool = False


_FIELD_NAMES = {
    "idea_submitted": "points.ideaSubmitted",
    "upvote_received": "points.upvoteReceived",
    "downvote_received": "points.downvoteReceived",
    "vote_cast": "points.voteCast",
    "comment": "points.comment",
    "idea_accepted": "points.ideaAccepted",
    "idea_shipped": "points.ideaShipped",
    "campaign_winner": "points.campaignWinner",
    "daily_vote_cap": "dailyVoteCap",
    "serial_vote_limit": "serialVoteLimit",
    "flag_min_level": "flagMinLevel",
    "idea_votes_badge": "ideaVotesBadge",
    "auto_hide_after": "autoHideAfter",
}


def _level_errors(levels: tuple[LevelRule, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    if not 1 <= len(levels) <= MAX_LEVELS:
        return [FieldError("levels", ErrorCode.OUT_OF_RANGE, f"give 1-{MAX_LEVELS} levels")]
    if levels[0].threshold != 0:
        errors.append(
            FieldError("levels[0].threshold", ErrorCode.INVALID, "the first level starts at 0")
        )
    names: set[str] = set()
    for i, level in enumerate(levels):
        name = clean(level.name)
        if not name or len(name) > LEVEL_NAME_MAX:
            errors.append(
                FieldError(
                    f"levels[{i}].name",
                    ErrorCode.INVALID,
                    f"a level name is 1-{LEVEL_NAME_MAX} characters",
                )
            )
        elif name.casefold() in names:
            errors.append(
                FieldError(f"levels[{i}].name", ErrorCode.ALREADY_EXISTS, "level names differ")
            )
        names.add(name.casefold())
        if i and level.threshold <= levels[i - 1].threshold:
            errors.append(
                FieldError(
                    f"levels[{i}].threshold",
                    ErrorCode.INVALID,
                    "level thresholds must increase",
                )
            )
        if not 0 <= level.threshold <= 100_000_000:
            errors.append(
                FieldError(
                    f"levels[{i}].threshold", ErrorCode.OUT_OF_RANGE, "thresholds are 0-100000000"
                )
            )
    return errors


def apply_patch(current: Rules, patch: RulesPatch) -> Rules:
    """The rules after ``patch``, or a DomainError listing every invalid field."""
    base = DEFAULT_RULES if patch.reset else current
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    bounds = {name: (low, high) for name, low, high in (*POINT_RULES, *LIMIT_RULES)}
    for name, value in patch.points.items():
        if name not in dict.fromkeys(n for n, _, _ in POINT_RULES):
            errors.append(FieldError(f"points.{name}", ErrorCode.INVALID, "unknown point rule"))
            continue
        values[name] = value
    for name in (
        "daily_vote_cap",
        "serial_vote_limit",
        "flag_min_level",
        "idea_votes_badge",
        "auto_hide_after",
    ):
        value = getattr(patch, name)
        if value is not UNSET:
            values[name] = value
    for name, value in values.items():
        low, high = bounds[name]
        if not low <= value <= high:
            errors.append(
                FieldError(_FIELD_NAMES[name], ErrorCode.OUT_OF_RANGE, f"must be {low} to {high}")
            )
    if patch.levels is not UNSET:
        level_errors = _level_errors(patch.levels)
        errors.extend(level_errors)
        if not level_errors:
            values["levels"] = tuple(LevelRule(lv.threshold, clean(lv.name)) for lv in patch.levels)
    if errors:
        raise DomainError.many(errors)
    rules = replace(base, **values)
    if rules.flag_min_level >= len(rules.levels):
        raise DomainError(
            ErrorCode.OUT_OF_RANGE,
            f"flagMinLevel must be below the number of levels ({len(rules.levels)})",
            "flagMinLevel",
        )
    return rules


async def update_rules(patch: RulesPatch) -> Rules:
    """Store the tenant's new rules; when level thresholds move, every member's level follows."""
    tenant_id = current_tenant_id()
    async with events.unit_of_work():
        tenant = await Tenant.filter(id=tenant_id).select_for_update().get()
        current = parse_rules(tenant.reputation_rules)
        rules = apply_patch(current, patch)
        tenant.reputation_rules = rules.overrides() or None
        await tenant.save(update_fields=["reputation_rules"])
        if rules.levels != current.levels:
            await recompute_levels(rules)
    return rules


async def recompute_levels(rules: Rules) -> None:
    """Each member's level from their stored total: one UPDATE per level band, changed rows only."""
    for number, level in enumerate(rules.levels):
        band = Member.filter(level__not=number)
        if number > 0:
            band = band.filter(reputation__gte=level.threshold)
        if number + 1 < len(rules.levels):
            band = band.filter(reputation__lt=rules.levels[number + 1].threshold)
        await band.update(level=number)
