"""Members as the API shows them: public profile for everyone, private fields to the brand or self."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from api.context import Info
from api.plans import fields
from api.types.common import Connection
from api.types.reputation import Badge, Level, ReputationEntry, ReputationEntryConnection
from engine import models as m
from engine import visibility
from engine.reputation import history, levels


@strawberry.type(name="Member", description="A customer of the brand taking part in campaigns.")
class Member(relay.Node):
    id: relay.NodeID[int]
    display_name: str
    reputation: int = strawberry.field(
        description="Total points: the sum of the member's reputation history."
    )
    created_at: datetime
    _row: strawberry.Private[m.Member]

    @classmethod
    def from_row(cls, row: m.Member) -> Member:
        # Plain fields from their one declaration, shared with compiled plans (api/plans/fields.py).
        return cls(id=row.id, _row=row, **fields.values(fields.MEMBER, row))

    def _private(self, info: Info) -> bool:
        return visibility.sees_member_private(info.context.audience, self.id)

    @strawberry.field(description="The brand's own customer id. Brand (secret key) or self only.")
    def external_id(self, info: Info) -> str | None:
        return self._row.external_id if self._private(info) else None

    @strawberry.field(description="Brand (secret key) or self only.")
    def email(self, info: Info) -> str | None:
        return self._row.email if self._private(info) else None

    @strawberry.field(description="A verified customer. Brand (secret key) or self only.")
    def verified(self, info: Info) -> bool | None:
        return self._row.verified if self._private(info) else None

    @strawberry.field(description="Customer tier. Brand (secret key) or self only.")
    def tier(self, info: Info) -> str | None:
        return self._row.tier if self._private(info) else None

    @strawberry.field(description="Customer value in cents, from the CRM. Brand (secret key) only.")
    def customer_value_cents(self, info: Info) -> int | None:
        brand = visibility.sees_brand_fields(info.context.audience)
        return self._row.customer_value_cents if brand else None

    @strawberry.field(description="The member's level under the brand's thresholds.")
    async def level(self, info: Info) -> Level:
        rules = await info.context.loaders.rules()
        return Level.of(self._row.reputation, self._row.level, rules)

    @strawberry.field(description="Whether the member's level allows flagging ideas and comments.")
    async def can_flag(self, info: Info) -> bool:
        return levels.can_flag(self._row, await info.context.loaders.rules())

    @strawberry.field(description="Badges, oldest first.")
    async def badges(self, info: Info) -> list[Badge]:
        rows = await info.context.loaders.badges.load(self.id)
        return [
            Badge(
                code=b.code,
                name=b.name,
                description=b.description,
                kind=b.kind,
                awarded_at=b.awarded_at,
            )
            for b in rows
        ]

    @strawberry.field(
        description="Points earned and lost, newest first, each with its reason; at most 100 per "
        "page. Brand (secret key) or self only."
    )
    async def reputation_history(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ReputationEntryConnection | None:
        if not self._private(info):
            return None
        page = await history.history(self.id, first, after)
        return ReputationEntryConnection.from_page(
            page, ReputationEntry.from_row, lambda: history.history_count(self.id)
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        rows = await info.context.loaders.member.load_many([int(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(name="MemberConnection")
class MemberConnection(Connection[Member]):
    pass
