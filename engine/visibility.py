"""Who may see which row: one rule per model, decided here and nowhere else.

An :class:`Audience` is the engine's view of the caller (its role and member). For each model a
function returns the :class:`Rule` that viewer is under; the same rule filters ORM querysets
(fields, lists, ``node(id)``, loaders) and renders as SQL for compiled read plans, so the two
cannot disagree. The tenant predicate is part of every rule's SQL (ORM querysets get it from
:mod:`engine.tenancy` already). Field-level rules (private member fields, brand-only flags) live
at the end of the module. See docs/architecture.md, "Visibility".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from engine.models.campaigns import Campaign, CampaignStatus, Threshold
from engine.models.ideas import Idea, IdeaStatusChange
from engine.models.interactions import Comment
from engine.models.members import Member
from engine.models.moderation import Flag
from engine.tenancy import current_tenant_id

M = TypeVar("M", bound=Model)


class Role(str, Enum):
    SECRET = "SECRET"
    PUBLIC = "PUBLIC"
    MEMBER = "MEMBER"


@dataclass(frozen=True)
class Audience:
    """The caller as the engine sees it: a brand (secret key), the public, or one member."""

    role: Role
    member_id: int | None = None

    @property
    def is_brand(self) -> bool:
        return self.role == Role.SECRET


PUBLIC = Audience(Role.PUBLIC)
BRAND = Audience(Role.SECRET)


@dataclass(frozen=True)
class Equals:
    """``column = value`` (or ``<>`` when negated; NULL compares with IS)."""

    column: str
    value: bool | str | None
    negate: bool = False


@dataclass(frozen=True)
class VisibleParent:
    """``column`` points at a row that must itself be visible under ``rule``."""

    column: str
    model: type[Model]
    rule: Rule


@dataclass(frozen=True)
class Rule:
    """Conditions a row must all meet; ``nothing`` when the viewer may see no row at all."""

    conditions: tuple[Equals | VisibleParent, ...] = ()
    nothing: bool = False

    def and_also(self, *more: Equals | VisibleParent) -> Rule:
        added = tuple(c for c in more if c not in self.conditions)
        return Rule(self.conditions + added, self.nothing)

    def q(self) -> Q:
        q = Q(id__lt=0) if self.nothing else Q()
        for cond in self.conditions:
            if isinstance(cond, Equals):
                key = f"{cond.column}__isnull" if cond.value is None else cond.column
                value: Any = True if cond.value is None else cond.value
                part = Q(**{key: value})
                q &= ~part if cond.negate else part
            else:
                parents = cond.rule.apply(cond.model.filter()).values("id")
                within: dict[str, Any] = {f"{cond.column}__in": Subquery(parents)}
                q &= Q(**within)
        return q

    def apply(self, query: QuerySet[M]) -> QuerySet[M]:
        if not self.conditions and not self.nothing:
            return query
        return query.filter(self.q())

    def sql(self, table: str, alias: str, param: Callable[[Any], str], tenant: Any = None) -> str:
        """The rule as a WHERE fragment on ``alias`` (a ``table`` row), tenant predicate included.

        ``param`` registers a bound value and returns its placeholder, so the caller decides the
        dialect ($1 or ?) and keeps the values out of the SQL text; ``tenant`` is the value bound
        for the tenant (default: the tenant in scope; a compiled plan passes a placeholder it
        fills per request).
        """
        tenant_value = current_tenant_id() if tenant is None else tenant
        parts = [f'"{alias}"."tenant_id" = {param(tenant_value)}']
        if self.nothing:
            parts.append("1 = 0")
        for n, cond in enumerate(self.conditions):
            column = f'"{alias}"."{cond.column}"'
            if isinstance(cond, Equals):
                if cond.value is None:
                    parts.append(f"{column} IS {'NOT ' if cond.negate else ''}NULL")
                else:
                    op = "<>" if cond.negate else "="
                    parts.append(f"{column} {op} {param(cond.value)}")
            else:
                inner_table = cond.model._meta.db_table
                inner_alias = f"{alias}_p{n}"
                where = cond.rule.sql(inner_table, inner_alias, param, tenant_value)
                parts.append(
                    f'{column} IN (SELECT "{inner_alias}"."id" FROM "{inner_table}" '
                    f'"{inner_alias}" WHERE {where})'
                )
        return " AND ".join(parts)


# ---- row rules, one per model ------------------------------------------------------------------


def campaign_rule(audience: Audience) -> Rule:
    """Drafts are the brand's own until opened."""
    if audience.is_brand:
        return Rule()
    return Rule((Equals("status", CampaignStatus.DRAFT.value, negate=True),))


def idea_rule(audience: Audience) -> Rule:
    """An idea someone may open by id: the brand sees hidden ones (it moderates them); others
    see neither hidden ideas nor ideas of a campaign they cannot see. Merged and frozen ideas
    stay readable (a merged one points at its target, a frozen one only refuses interactions)."""
    if audience.is_brand:
        return Rule()
    return Rule(
        (
            Equals("hidden", False),
            VisibleParent("campaign_id", Campaign, campaign_rule(audience)),
        )
    )


def listed_idea_rule(audience: Audience, hidden: bool = False, merged: bool = False) -> Rule:
    """Ideas in lists and rankings: visible, not merged away, not hidden (for the brand too:
    hidden ideas are in the moderation queue, not in rankings). ``hidden`` and ``merged`` list
    the hidden or the merged-away ones instead, for the brand's moderation views (where a merge
    is undone); nobody else gets such a list."""
    if (hidden or merged) and not audience.is_brand:
        return Rule(nothing=True)
    return idea_rule(audience).and_also(
        Equals("merged_into_id", None, negate=merged), Equals("hidden", hidden)
    )


def comment_rule(audience: Audience) -> Rule:
    """Comments on visible ideas; hidden comments for the brand only."""
    if audience.is_brand:
        return Rule()
    return Rule((Equals("hidden", False), VisibleParent("idea_id", Idea, idea_rule(audience))))


def listed_comment_rule(audience: Audience) -> Rule:
    """An idea's comment thread leaves hidden comments out for everyone."""
    return comment_rule(audience).and_also(Equals("hidden", False))


def response_rule(audience: Audience) -> Rule:
    """An idea's official responses are as visible as the idea itself."""
    if audience.is_brand:
        return Rule()
    return Rule((VisibleParent("idea_id", Idea, idea_rule(audience)),))


def threshold_rule(audience: Audience) -> Rule:
    if audience.is_brand:
        return Rule()
    return Rule((VisibleParent("campaign_id", Campaign, campaign_rule(audience)),))


def member_rule(audience: Audience) -> Rule:
    """Every member of the tenant has a public profile (private fields: see below)."""
    return Rule()


def brand_only_rule(audience: Audience) -> Rule:
    """Moderation, webhook endpoints and deliveries: the brand's back office."""
    return Rule() if audience.is_brand else Rule(nothing=True)


RULES: dict[type[Model], Callable[[Audience], Rule]] = {
    Campaign: campaign_rule,
    Idea: idea_rule,
    Comment: comment_rule,
    IdeaStatusChange: response_rule,
    Threshold: threshold_rule,
    Member: member_rule,
    Flag: brand_only_rule,
}


def visible(model: type[M], audience: Audience) -> QuerySet[M]:
    """The model's rows this viewer may see (tenant-scoped like every query)."""
    rule = RULES.get(model, brand_only_rule)(audience)
    return rule.apply(model.filter())


def ideas(audience: Audience) -> QuerySet[Idea]:
    return idea_rule(audience).apply(Idea.filter())


def listed_ideas(audience: Audience) -> QuerySet[Idea]:
    return listed_idea_rule(audience).apply(Idea.filter())


# ---- field rules -------------------------------------------------------------------------------


def sees_member_private(audience: Audience, member_id: int) -> bool:
    """External id, email, verified, tier and reputation history: the brand or the member."""
    return audience.is_brand or (audience.member_id is not None and audience.member_id == member_id)


def sees_brand_fields(audience: Audience) -> bool:
    """Moderation state (an idea's hidden flag) and CRM data (customer value)."""
    return audience.is_brand
