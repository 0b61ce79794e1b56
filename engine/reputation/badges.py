"""Badges: awarded by rules from events, by a monthly job, or by the brand (``awardBadge``).

Each award has a source key unique per tenant (once per member for "first" badges, once per idea
for idea badges, once per tenant and month for top contributor, once per member and code for the
brand's badges), so replays and concurrent jobs award once. Badges are never taken back: a badge
records that something happened, even if points for it were later reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum

from engine import events, payloads
from engine.clock import iso, utcnow
from engine.errors import ErrorCode, FieldError, NotFound
from engine.events import EventType
from engine.models.members import Member
from engine.models.tenants import Tenant
from engine.reputation.models import BadgeKind, MemberBadge, ReputationEntry
from engine.tenancy import tenant_scope
from engine.text import check_slug, check_text, clean, require_texts

CODE_MAX = 64


@dataclass(frozen=True)
class BadgeSpec:
    code: str
    name: str
    description: str


FIRST_IDEA = BadgeSpec("first-idea", "First idea", "Submitted a first idea.")
FIRST_VOTE = BadgeSpec("first-vote", "First vote", "Voted on an idea for the first time.")
POPULAR_IDEA = BadgeSpec("popular-idea", "Popular idea", "An idea reached {n} upvotes.")
IDEA_ACCEPTED = BadgeSpec("idea-accepted", "Accepted", "An idea was accepted by the brand.")
IDEA_SHIPPED = BadgeSpec("idea-shipped", "Shipped", "An idea became a product.")
CAMPAIGN_WINNER = BadgeSpec("campaign-winner", "Campaign winner", "An idea won a campaign.")
TOP_CONTRIBUTOR = BadgeSpec(
    "top-contributor", "Top contributor", "Earned the most points in {month}."
)
RULE_CODES = frozenset(
    b.code
    for b in (
        FIRST_IDEA,
        FIRST_VOTE,
        POPULAR_IDEA,
        IDEA_ACCEPTED,
        IDEA_SHIPPED,
        CAMPAIGN_WINNER,
        TOP_CONTRIBUTOR,
    )
)


async def award(
    member: Member,
    spec: BadgeSpec,
    source_key: str,
    *,
    kind: BadgeKind = BadgeKind.RULE,
    idea_id: int | None = None,
    campaign_id: int | None = None,
    awarded_at: datetime | None = None,
) -> MemberBadge | None:
    """Award inside the caller's unit of work; None when this source key already holds a badge."""
    if await MemberBadge.filter(source_key=source_key).exists():
        return None
    badge = await MemberBadge.create(
        member_id=member.id,
        code=spec.code,
        name=spec.name,
        description=spec.description,
        kind=kind,
        source_key=source_key,
        idea_id=idea_id,
        campaign_id=campaign_id,
        awarded_at=awarded_at or utcnow(),
    )
    await events.record(
        EventType.MEMBER_BADGE_AWARDED,
        {
            "member": payloads.member_ref(member, with_email=True),
            "badge": {
                "id": payloads.global_id("Badge", badge.id),
                "code": badge.code,
                "name": badge.name,
                "description": badge.description,
                "kind": badge.kind.value,
            },
            "awardedAt": iso(badge.awarded_at),
        },
        member_id=member.id,
        idea_id=idea_id,
        campaign_id=campaign_id,
    )
    return badge


@dataclass(frozen=True)
class BrandBadgeOutcome:
    badge: MemberBadge
    # False when the member already held this badge (the call is idempotent).
    awarded: bool


async def award_brand_badge(
    member_id: int, code: str, name: str, description: str = ""
) -> BrandBadgeOutcome:
    """The brand's own badge, once per member and code; repeating the call changes nothing."""
    code = (code or "").strip()
    errors = [
        check_slug(code, field="code"),
        check_text(name, field="name", max_len=100),
        check_text(description, field="description", max_len=300, required=False),
    ]
    if len(code) > CODE_MAX:
        errors.append(
            FieldError("code", ErrorCode.TOO_LONG, f"code must be at most {CODE_MAX} characters")
        )
    if code in RULE_CODES:
        errors.append(
            FieldError("code", ErrorCode.ALREADY_EXISTS, f"{code!r} is a built-in badge code")
        )
    require_texts(*errors)
    key = f"brand:{code}:{member_id}"
    spec = BadgeSpec(code, clean(name), clean(description or ""))
    try:
        async with events.unit_of_work():
            member = await Member.get_or_none(id=member_id)
            if member is None:
                raise NotFound("member", "memberId")
            badge = await award(member, spec, key, kind=BadgeKind.BRAND)
    except IntegrityError:  # the same award committed concurrently
        badge = None
    if badge is not None:
        return BrandBadgeOutcome(badge, True)
    existing = await MemberBadge.get(source_key=key)
    return BrandBadgeOutcome(existing, False)


def previous_month(now: datetime) -> date:
    first = now.date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime.combine(month.replace(day=1), time(), tzinfo=UTC)
    end = datetime.combine((start + timedelta(days=32)).date().replace(day=1), time(), UTC)
    return start, end


async def award_top_contributor(month: date) -> MemberBadge | None:
    """The tenant in scope's member with the most points in ``month`` (ties: earliest member)."""
    start, end = month_bounds(month)
    top: list[Any] = (
        await ReputationEntry.filter(occurred_at__gte=start, occurred_at__lt=end)
        .annotate(total=Sum("points"))
        .group_by("member_id")
        .filter(total__gt=0)
        .order_by("-total", "member_id")
        .limit(1)
        .values_list("member_id", flat=True)
    )
    if not top:
        return None
    label = start.strftime("%B %Y")
    spec = BadgeSpec(
        TOP_CONTRIBUTOR.code,
        TOP_CONTRIBUTOR.name,
        TOP_CONTRIBUTOR.description.format(month=label),
    )
    try:
        async with events.unit_of_work():
            member = await Member.get(id=int(top[0]))
            return await award(
                member, spec, f"badge:top-contributor:{start:%Y-%m}", awarded_at=utcnow()
            )
    except IntegrityError:  # another worker awarded it at the same moment
        return None


async def award_top_contributors(now: datetime | None = None) -> int:
    """Every tenant's top contributor of the previous month (the cron runs daily: a missed day or
    a second worker changes nothing)."""
    month = previous_month(now or utcnow())
    awarded = 0
    tenant_ids: list[Any] = await Tenant.all().order_by("id").values_list("id", flat=True)
    for tenant_id in tenant_ids:
        with tenant_scope(int(tenant_id)):
            if await award_top_contributor(month) is not None:
                awarded += 1
    return awarded
