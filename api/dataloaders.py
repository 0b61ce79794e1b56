"""Per-request batch loaders: one query per kind of object per request, whatever the page size."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from engine.models.campaigns import Campaign, Threshold
from engine.models.ideas import Idea, IdeaStatusChange
from engine.models.interactions import Comment, Pledge, Score, Vote
from engine.models.members import Member
from engine.reputation.models import MemberBadge
from engine.reputation.rules import Rules, rules_for_tenant
from engine.visibility import Audience, visible

M = TypeVar("M")


def _by_id(model: Any, audience: Audience) -> Callable[[Sequence[int]], Awaitable[list[Any]]]:
    """Rows by id, None for ids the audience may not see (engine.visibility decides)."""

    async def load(ids: Sequence[int]) -> list[Any]:
        query = visible(model, audience).filter(id__in=list(set(ids)))
        rows = {row.id: row for row in await query}
        return [rows.get(i) for i in ids]

    return load


def _grouped(rows: Iterable[Any], key: str, ids: Sequence[int]) -> list[list[Any]]:
    groups: dict[int, list[Any]] = {i: [] for i in ids}
    for row in rows:
        groups[getattr(row, key)].append(row)
    return [groups[i] for i in ids]


class Loaders:
    """Created per request: the audience decides which rows load (engine.visibility) and what
    the "viewer" loaders return."""

    def __init__(self, audience: Audience) -> None:
        self.audience = audience
        self.member = DataLoader(_by_id(Member, audience))
        self.campaign = DataLoader(_by_id(Campaign, audience))
        self.idea = DataLoader(_by_id(Idea, audience))
        self.comment = DataLoader(_by_id(Comment, audience))
        self.threshold = DataLoader(_by_id(Threshold, audience))
        self.thresholds = DataLoader(self._thresholds)
        self.status_changes = DataLoader(self._status_changes)
        self._member_id = audience.member_id
        self.viewer_vote = DataLoader(self._viewer(Vote, "value"))
        self.viewer_score = DataLoader(self._viewer(Score, "value"))
        self.viewer_pledge = DataLoader(self._viewer(Pledge, "quantity"))
        self.badges = DataLoader(self._badges)
        # One key: the tenant in scope. A loader (not a plain cache) so concurrent resolvers share
        # one query.
        self._rules = DataLoader(self._load_rules)

    def _viewer(self, model: Any, column: str) -> Callable[[Sequence[int]], Awaitable[list[int]]]:
        async def load(idea_ids: Sequence[int]) -> list[int]:
            if self._member_id is None:
                return [0 for _ in idea_ids]
            rows = await model.filter(
                member_id=self._member_id, idea_id__in=list(set(idea_ids))
            ).values_list("idea_id", column)
            found = {int(i): int(v) for i, v in rows}
            return [found.get(i, 0) for i in idea_ids]

        return load

    @staticmethod
    async def _thresholds(campaign_ids: Sequence[int]) -> list[list[Threshold]]:
        rows = await Threshold.filter(
            campaign_id__in=list(set(campaign_ids)), archived_at=None
        ).order_by("id")
        return _grouped(rows, "campaign_id", campaign_ids)

    async def _status_changes(self, idea_ids: Sequence[int]) -> list[list[IdeaStatusChange]]:
        query = visible(IdeaStatusChange, self.audience).filter(idea_id__in=list(set(idea_ids)))
        rows = await query.order_by("id")
        return _grouped(rows, "idea_id", idea_ids)

    @staticmethod
    async def _badges(member_ids: Sequence[int]) -> list[list[MemberBadge]]:
        rows = await MemberBadge.filter(member_id__in=list(set(member_ids))).order_by(
            "awarded_at", "id"
        )
        return _grouped(rows, "member_id", member_ids)

    @staticmethod
    async def _load_rules(keys: Sequence[int]) -> list[Rules]:
        rules = await rules_for_tenant()
        return [rules for _ in keys]

    async def rules(self) -> Rules:
        """The tenant's reputation rules, read once per request."""
        return await self._rules.load(0)

    def prime_ideas(self, ideas: Iterable[Idea]) -> None:
        for idea in ideas:
            self.idea.prime(idea.id, idea)
