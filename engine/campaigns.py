"""Campaigns: created and changed by the brand (secret key), opened and closed with events."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from tortoise.exceptions import IntegrityError

from engine import campaign_gate, counters, events, payloads, ranking, winners
from engine.clock import iso, utcnow
from engine.errors import DomainError, ErrorCode, FieldError, NotFound
from engine.events import EventType
from engine.models.campaigns import HOT_HALF_LIFE_HOURS, Campaign, CampaignMode, CampaignStatus
from engine.ranking import HOT_HALF_LIFE_BOUNDS
from engine.text import BODY_MAX, TITLE_MAX, check_slug, check_text, clean, slugify
from engine.thresholds import ThresholdSpec, replace_thresholds, validate_thresholds
from engine.unset import UNSET, Maybe

MAX_WINNERS = 100
MAX_TIERS = 50


@dataclass(frozen=True)
class CampaignInput:
    title: str
    slug: str | None = None
    description: str = ""
    mode: CampaignMode = CampaignMode.IDEAS
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    verified_only: bool = False
    allowed_tiers: tuple[str, ...] = ()
    min_level: int = 0
    terms_text: str = ""
    vote_budget: int | None = None
    rewards: str = ""
    winner_count: int = 3
    rank_by_supporter_value: bool = False
    winner_min_count: int = 1
    response_due_days: int | None = None
    hot_half_life_hours: float = HOT_HALF_LIFE_HOURS
    thresholds: tuple[ThresholdSpec, ...] = ()


@dataclass(frozen=True)
class CampaignPatch:
    title: Maybe[str] = UNSET
    slug: Maybe[str] = UNSET
    description: Maybe[str] = UNSET
    mode: Maybe[CampaignMode] = UNSET
    opens_at: Maybe[datetime | None] = UNSET
    closes_at: Maybe[datetime | None] = UNSET
    verified_only: Maybe[bool] = UNSET
    allowed_tiers: Maybe[tuple[str, ...]] = UNSET
    min_level: Maybe[int] = UNSET
    terms_text: Maybe[str] = UNSET
    vote_budget: Maybe[int | None] = UNSET
    rewards: Maybe[str] = UNSET
    winner_count: Maybe[int] = UNSET
    rank_by_supporter_value: Maybe[bool] = UNSET
    winner_min_count: Maybe[int] = UNSET
    response_due_days: Maybe[int | None] = UNSET
    hot_half_life_hours: Maybe[float] = UNSET
    thresholds: Maybe[tuple[ThresholdSpec, ...]] = UNSET

    def given(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.__dict__.items()
            if not name.startswith("_") and value is not UNSET
        }


def _validate(values: dict[str, Any], mode: CampaignMode) -> list[FieldError]:
    errors: list[FieldError | None] = []
    if "title" in values:
        errors.append(check_text(values["title"], field="title", max_len=TITLE_MAX))
    if "slug" in values:
        errors.append(check_slug(values["slug"]))
    for name, key in (
        ("description", "description"),
        ("terms_text", "termsText"),
        ("rewards", "rewards"),
    ):
        if name in values:
            errors.append(check_text(values[name], field=key, max_len=BODY_MAX, required=False))
    opens, closes = values.get("opens_at"), values.get("closes_at")
    if opens is not None and closes is not None and closes <= opens:
        errors.append(FieldError("closesAt", ErrorCode.INVALID, "closesAt must be after opensAt"))
    budget = values.get("vote_budget")
    if budget is not None and not 1 <= budget <= 10_000:
        errors.append(
            FieldError("voteBudget", ErrorCode.OUT_OF_RANGE, "voteBudget must be 1-10000 or null")
        )
    if "min_level" in values and not 0 <= values["min_level"] <= 1000:
        errors.append(FieldError("minLevel", ErrorCode.OUT_OF_RANGE, "minLevel must be 0-1000"))
    if "winner_count" in values and not 0 <= values["winner_count"] <= MAX_WINNERS:
        errors.append(
            FieldError(
                "winnerCount", ErrorCode.OUT_OF_RANGE, f"winnerCount must be 0-{MAX_WINNERS}"
            )
        )
    if "winner_min_count" in values and not 0 <= values["winner_min_count"] <= 1_000_000:
        errors.append(
            FieldError("winnerMinCount", ErrorCode.OUT_OF_RANGE, "winnerMinCount must be 0-1000000")
        )
    due = values.get("response_due_days")
    if due is not None and not 1 <= due <= 3650:
        errors.append(
            FieldError(
                "responseDueDays", ErrorCode.OUT_OF_RANGE, "responseDueDays must be 1-3650 or null"
            )
        )
    if "hot_half_life_hours" in values:
        half_life = values["hot_half_life_hours"]
        low, high = HOT_HALF_LIFE_BOUNDS
        if not (math.isfinite(half_life) and low <= half_life <= high):
            errors.append(
                FieldError(
                    "hotHalfLifeHours",
                    ErrorCode.OUT_OF_RANGE,
                    f"hotHalfLifeHours must be {low:g}-{high:g}",
                )
            )
    tiers = values.get("allowed_tiers") or ()
    if len(tiers) > MAX_TIERS or any(not t.strip() or len(t) > 50 for t in tiers):
        errors.append(
            FieldError("allowedTiers", ErrorCode.INVALID, "tiers must be 1-50 characters")
        )
    if "thresholds" in values:
        errors.extend(validate_thresholds(values["thresholds"], mode))
    return [e for e in errors if e is not None]


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    out.pop("thresholds", None)
    for name in ("title", "description", "rewards", "terms_text"):
        if name in out:
            out[name] = clean(out[name])
    if "allowed_tiers" in out:
        out["allowed_tiers"] = sorted({t.strip() for t in out["allowed_tiers"]})
    return out


async def create_campaign(data: CampaignInput) -> Campaign:
    values = dict(data.__dict__)
    values["slug"] = data.slug if data.slug is not None else slugify(data.title)
    errors = _validate(values, data.mode)
    if errors:
        raise DomainError.many(errors)
    columns = _columns(values)
    columns["terms_version"] = 1 if columns["terms_text"] else 0
    async with events.unit_of_work():
        if await Campaign.filter(slug=columns["slug"]).exists():
            raise DomainError(ErrorCode.ALREADY_EXISTS, "a campaign with this slug exists", "slug")
        try:
            campaign = await Campaign.create(**columns)
        except IntegrityError as exc:  # a concurrent create took the slug
            raise DomainError(
                ErrorCode.ALREADY_EXISTS, "a campaign with this slug exists", "slug"
            ) from exc
        await replace_thresholds(campaign, data.thresholds)
    return campaign


async def get_campaign(campaign_id: int, field: str = "id") -> Campaign:
    campaign = await Campaign.get_or_none(id=campaign_id)
    if campaign is None:
        raise NotFound("campaign", field)
    return campaign


async def update_campaign(campaign_id: int, patch: CampaignPatch) -> Campaign:
    values = patch.given()
    async with events.unit_of_work():
        campaign = await Campaign.filter(id=campaign_id).select_for_update().first()
        if campaign is None:
            raise NotFound("campaign")
        mode = values.get("mode", campaign.mode)
        merged = {"opens_at": campaign.opens_at, "closes_at": campaign.closes_at, **values}
        errors = _validate(merged, mode)
        if (
            "mode" in values
            and values["mode"] != campaign.mode
            and campaign.status != CampaignStatus.DRAFT
        ):
            errors.append(
                FieldError(
                    "mode",
                    ErrorCode.INVALID_TRANSITION,
                    "the mode can only change while the campaign is a draft",
                )
            )
        if errors:
            raise DomainError.many(errors)
        columns = _columns(values)
        if (
            "slug" in columns
            and columns["slug"] != campaign.slug
            and await Campaign.filter(slug=columns["slug"]).exclude(id=campaign.id).exists()
        ):
            raise DomainError(ErrorCode.ALREADY_EXISTS, "a campaign with this slug exists", "slug")
        if "terms_text" in columns and columns["terms_text"] != campaign.terms_text:
            # New terms are a new version: ideas keep the version their author accepted.
            columns["terms_version"] = campaign.terms_version + 1 if columns["terms_text"] else 0
        rerank = columns.get("hot_half_life_hours", campaign.hot_half_life_hours) != (
            campaign.hot_half_life_hours
        )
        if columns:
            for key, value in columns.items():
                setattr(campaign, key, value)
            await campaign.save(update_fields=[*columns.keys(), "updated_at"])
        if rerank:
            # Every stored HOT key of the campaign follows, in this transaction (engine.counters).
            await counters.rerank_hot(campaign.id, ranking.rules_of(campaign))
        if "thresholds" in values:
            await replace_thresholds(campaign, values["thresholds"])
    return campaign


_TRANSITIONS = {
    CampaignStatus.DRAFT: {CampaignStatus.OPEN},
    CampaignStatus.OPEN: {CampaignStatus.CLOSED},
    CampaignStatus.CLOSED: {CampaignStatus.OPEN},
}


class Trigger(str, Enum):
    """Why a campaign opened or closed (stated in the event)."""

    BRAND = "BRAND"
    SCHEDULE = "SCHEDULE"


async def set_campaign_status(campaign_id: int, status: CampaignStatus) -> Campaign:
    """The brand's change; a campaign whose closesAt has passed must get a new one to reopen."""
    return await transition(campaign_id, status, Trigger.BRAND)


async def transition(
    campaign_id: int,
    status: CampaignStatus,
    trigger: Trigger,
    *,
    now: datetime | None = None,
) -> Campaign:
    """Open or close once, with its event; closing computes the winners (engine.winners).

    The campaign gate is taken exclusively first (engine.campaign_gate): votes already past it
    commit before the winners are read, later ones then read CLOSED and are refused. Two closes
    at once (the brand and the scheduler) serialise on the campaign row: one closes, the other
    finds it closed and does nothing, so winners are computed and rewarded once per close.
    """
    async with events.unit_of_work():
        await campaign_gate.hold(campaign_id, exclusive=True)
        campaign = await Campaign.filter(id=campaign_id).select_for_update().first()
        if campaign is None:
            raise NotFound("campaign")
        if status == campaign.status:
            return campaign
        if status not in _TRANSITIONS[campaign.status]:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                f"a {campaign.status.value} campaign cannot become {status.value}",
                "status",
            )
        moment = now or utcnow()
        if trigger == Trigger.SCHEDULE and not _due(campaign, status, moment):
            return campaign  # the brand moved the dates since the schedule looked
        if (
            status == CampaignStatus.OPEN
            and campaign.closes_at is not None
            and campaign.closes_at <= moment
        ):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "closesAt has passed: set a later closesAt (or none) before opening",
                "status",
            )
        previous = campaign.status
        campaign.status = status
        await campaign.save(update_fields=["status", "updated_at"])
        if status == CampaignStatus.OPEN:
            await events.record(
                EventType.CAMPAIGN_OPENED,
                {
                    "campaign": payloads.campaign_ref(campaign),
                    "openedAt": iso(moment),
                    "trigger": trigger.value,
                    # A reopened campaign's earlier winners lose their rewards (reputation).
                    "reopened": previous == CampaignStatus.CLOSED,
                },
                campaign_id=campaign.id,
            )
            if previous == CampaignStatus.CLOSED:
                await events.record(
                    EventType.CAMPAIGN_REOPENED,
                    {"campaignId": campaign.id, "reopenedAt": iso(moment)},
                    campaign_id=campaign.id,
                )
        else:
            await events.record(
                EventType.CAMPAIGN_CLOSED,
                {
                    "campaign": payloads.campaign_ref(campaign),
                    "closedAt": iso(moment),
                    "trigger": trigger.value,
                    "rewards": campaign.rewards,
                    "rule": winners.rule(campaign),
                    "winners": await winners.winners(campaign),
                },
                campaign_id=campaign.id,
            )
    return campaign


def _due(campaign: Campaign, status: CampaignStatus, now: datetime) -> bool:
    closes, opens = campaign.closes_at, campaign.opens_at
    if status == CampaignStatus.CLOSED:
        return closes is not None and closes <= now
    return opens is not None and opens <= now and (closes is None or closes > now)
