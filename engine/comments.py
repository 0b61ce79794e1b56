"""Threaded comments on ideas."""

from __future__ import annotations

from engine import counters, events, ranking
from engine.conflicts import retry_conflicts
from engine.errors import DomainError, ErrorCode, NotFound
from engine.events import EventType
from engine.ideas import interactable_idea
from engine.models.interactions import Comment
from engine.models.members import Member
from engine.text import COMMENT_MAX, check_text, clean, require_texts

MAX_DEPTH = 8


@retry_conflicts
async def add_comment(
    member: Member, idea_id: int, body: str, parent_id: int | None = None
) -> Comment:
    require_texts(check_text(body, field="body", max_len=COMMENT_MAX))
    async with events.unit_of_work():
        idea, campaign = await interactable_idea(idea_id, member)
        depth = 0
        if parent_id is not None:
            parent = await Comment.get_or_none(id=parent_id, idea_id=idea.id)
            if parent is None or parent.hidden:
                raise NotFound("parent comment", "parentId")
            depth = parent.depth + 1
            if depth > MAX_DEPTH:
                raise DomainError(
                    ErrorCode.INVALID, f"replies nest at most {MAX_DEPTH} deep", "parentId"
                )
        comment = await Comment.create(
            idea_id=idea.id,
            author_id=member.id,
            parent_id=parent_id,
            body=clean(body),
            depth=depth,
        )
        # The idea's row lock comes last, after the comment row (docs/architecture.md, "Lock order").
        await counters.bump(
            idea.id,
            idea.created_at,
            {"comment_count": 1},
            rules=ranking.rules_of(campaign),
            guard=counters.Guard(),
        )
        await events.record(
            EventType.COMMENT_CREATED,
            {
                "commentId": comment.id,
                "ideaId": idea.id,
                "campaignId": campaign.id,
                "authorId": member.id,
                "ideaAuthorId": idea.author_id,
                "parentId": parent_id,
                "ideaTitle": idea.title,
            },
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=member.id,
        )
    return comment
