"""Members as the API shows them: public profile for everyone, private fields to the brand or self."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from api.context import Info
from api.types.common import Connection
from engine import models as m


@strawberry.type(name="Member", description="A customer of the brand taking part in campaigns.")
class Member(relay.Node):
    id: relay.NodeID[int]
    display_name: str
    reputation: int
    level_number: int = strawberry.field(name="levelNumber")
    created_at: datetime
    _row: strawberry.Private[m.Member]

    @classmethod
    def from_row(cls, row: m.Member) -> Member:
        return cls(
            id=row.id,
            display_name=row.display_name,
            reputation=row.reputation,
            level_number=row.level,
            created_at=row.created_at,
            _row=row,
        )

    def _private(self, info: Info) -> bool:
        viewer = info.context.viewer
        return info.context.is_secret or (viewer is not None and viewer.id == self.id)

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
        return self._row.customer_value_cents if info.context.is_secret else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        rows = await info.context.loaders.member.load_many([int(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(name="MemberConnection")
class MemberConnection(Connection[Member]):
    pass
