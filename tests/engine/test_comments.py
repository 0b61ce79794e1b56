"""Threaded comments."""

from __future__ import annotations

import pytest

from engine import comments
from engine.comments import MAX_DEPTH
from engine.errors import DomainError, ErrorCode
from engine.models import Comment, Idea
from tests import factories


async def test_replies_nest_and_count(tenant) -> None:
    author, other = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    parent = await comments.add_comment(other, idea.id, "Love it")
    reply = await comments.add_comment(author, idea.id, "Thanks!", parent.id)
    assert (reply.parent_id, reply.depth) == (parent.id, 1)
    assert (await Idea.get(id=idea.id)).comment_count == 2


async def test_depth_limit_and_foreign_parent(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea, other = await factories.idea(author, campaign), await factories.idea(author, campaign)
    parent = await comments.add_comment(author, idea.id, "level 0")
    for level in range(1, MAX_DEPTH + 1):
        parent = await comments.add_comment(author, idea.id, f"level {level}", parent.id)
    with pytest.raises(DomainError) as caught:
        await comments.add_comment(author, idea.id, "too deep", parent.id)
    assert caught.value.code == ErrorCode.INVALID
    with pytest.raises(DomainError) as caught:
        await comments.add_comment(author, other.id, "wrong thread", parent.id)
    assert caught.value.code == ErrorCode.NOT_FOUND
    assert await Comment.filter(idea_id=other.id).count() == 0


@pytest.mark.parametrize(
    ("body", "code"), [("", ErrorCode.REQUIRED), ("x" * 5001, ErrorCode.TOO_LONG)]
)
async def test_body_limits(tenant, body, code) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    with pytest.raises(DomainError) as caught:
        await comments.add_comment(author, idea.id, body)
    assert caught.value.code == code
