"""Flags and the moderation log as the brand sees them (secret key)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeAlias

import strawberry
from strawberry import relay

from api.context import Info
from api.types.comment import Comment
from api.types.common import Connection
from api.types.idea import Idea
from api.types.member import Member
from engine import models as m
from engine import visibility
from engine.moderation import Decision

# strawberry.enum registers the Enum class itself; the alias is its GraphQL-side name for mypy.
strawberry.enum(m.FlagReason, name="FlagReason")
FlagReasonEnum: TypeAlias = m.FlagReason
strawberry.enum(m.FlagStatus, name="FlagStatus")
FlagStatusEnum: TypeAlias = m.FlagStatus
strawberry.enum(m.ModerationAction, name="ModerationAction")
ModerationActionEnum: TypeAlias = m.ModerationAction
strawberry.enum(Decision, name="FlagDecision")
FlagDecisionEnum: TypeAlias = Decision
strawberry.enum(
    m.ActorKind,
    name="ModerationActorKind",
    description="Who took a moderation step: a member, a secret key, a console user, or a rule.",
)
ModerationActorKindEnum: TypeAlias = m.ActorKind


async def _idea(info: Info, idea_id: int) -> Idea:
    # The brand sees hidden ideas too: that is what it is moderating.
    return Idea.from_row(await info.context.loaders.idea.load(idea_id))


async def _comment(info: Info, comment_id: int | None) -> Comment | None:
    if comment_id is None:
        return None
    row = await info.context.loaders.comment.load(comment_id)
    return Comment.from_row(row) if row else None


@strawberry.type(name="Flag", description="A member's report, open until the brand resolves it.")
class Flag(relay.Node):
    id: relay.NodeID[int]
    reason: FlagReasonEnum
    note: str
    status: FlagStatusEnum
    created_at: datetime
    resolved_at: datetime | None
    resolution_note: str
    _row: strawberry.Private[m.Flag]

    @classmethod
    def from_row(cls, row: m.Flag) -> Flag:
        return cls(
            id=row.id,
            reason=row.reason,
            note=row.note,
            status=row.status,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            resolution_note=row.resolution_note,
            _row=row,
        )

    @strawberry.field
    async def idea(self, info: Info) -> Idea:
        return await _idea(info, self._row.idea_id)

    @strawberry.field
    async def comment(self, info: Info) -> Comment | None:
        return await _comment(info, self._row.comment_id)

    @strawberry.field
    async def reporter(self, info: Info) -> Member:
        return Member.from_row(await info.context.loaders.member.load(self._row.reporter_id))

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        query = visibility.visible(m.Flag, info.context.audience)
        rows = {r.id: r for r in await query.filter(id__in=[int(i) for i in node_ids])}
        return [cls.from_row(rows[int(i)]) if int(i) in rows else None for i in node_ids]


@strawberry.type(name="FlagConnection")
class FlagConnection(Connection[Flag]):
    pass


@strawberry.type(name="ModerationEntry", description="One step in the moderation audit log.")
class ModerationEntry:
    action: ModerationActionEnum
    note: str
    created_at: datetime
    _row: strawberry.Private[m.ModerationEntry]

    @strawberry.field
    async def idea(self, info: Info) -> Idea:
        return await _idea(info, self._row.idea_id)

    @strawberry.field
    async def comment(self, info: Info) -> Comment | None:
        return await _comment(info, self._row.comment_id)

    @strawberry.field(description="Who acted; null only on entries older than actor records.")
    def actor_kind(self) -> ModerationActorKindEnum | None:
        if self._row.actor_kind is None and self._row.actor_member_id is not None:
            return m.ActorKind.MEMBER
        return self._row.actor_kind

    @strawberry.field(
        description="What tells the actor apart: the secret key's prefix and label, the console "
        "user's email, or the rule's name (auto-hide, ip-report-freeze); empty for members "
        "(see actor)."
    )
    def actor_label(self) -> str:
        return self._row.actor_label

    @strawberry.field(description="The member who acted; null for the brand and automatic rules.")
    async def actor(self, info: Info) -> Member | None:
        if self._row.actor_member_id is None:
            return None
        return Member.from_row(await info.context.loaders.member.load(self._row.actor_member_id))


@strawberry.type(name="ModerationEntryConnection")
class ModerationEntryConnection(Connection[ModerationEntry]):
    pass
