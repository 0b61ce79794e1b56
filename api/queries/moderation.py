"""moderationQueue, moderationLog and mergePreview (secret key)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.types.ids import decode_id
from api.types.merge import MergePreview
from api.types.moderation import (
    Flag,
    FlagConnection,
    FlagStatusEnum,
    ModerationEntry,
    ModerationEntryConnection,
)
from engine import merges
from engine import models as m
from engine.pagination import id_page


@strawberry.type
class ModerationQueries:
    @strawberry.field(description="Flags to review, oldest first. Secret key only.")
    async def moderation_queue(
        self,
        info: Info,
        status: FlagStatusEnum = FlagStatusEnum.OPEN,
        first: int | None = 20,
        after: str | None = None,
    ) -> FlagConnection:
        info.context.require_secret()
        query = m.Flag.filter(status=status)
        page = await id_page(query, first, after, newest_first=False)
        return FlagConnection.from_page(page, Flag.from_row, query.count)

    @strawberry.field(description="Every moderation step, newest first. Secret key only.")
    async def moderation_log(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ModerationEntryConnection:
        info.context.require_secret()
        query = m.ModerationEntry.all()
        page = await id_page(query, first, after)
        return ModerationEntryConnection.from_page(
            page,
            lambda row: ModerationEntry(
                action=row.action, note=row.note, created_at=row.created_at, _row=row
            ),
            query.count,
        )

    @strawberry.field(
        description="What mergeIdea(ideaId, intoIdeaId) would move, before confirming it. "
        "Secret key only; the same userErrors as the merge come back as errors."
    )
    async def merge_preview(
        self, info: Info, idea_id: strawberry.ID, into_idea_id: strawberry.ID
    ) -> MergePreview:
        info.context.require_secret()
        preview = await merges.merge_preview(
            decode_id(idea_id, "Idea", "ideaId"), decode_id(into_idea_id, "Idea", "intoIdeaId")
        )
        return MergePreview.of(preview)
