"""Threaded comments."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from api.context import Info
from api.plans import fields
from api.types.common import Connection
from api.types.ids import encode_id
from api.types.member import Member
from engine import models as m
from engine import visibility
from engine.pagination import id_page


@strawberry.type(name="Comment")
class Comment(relay.Node):
    id: relay.NodeID[int]
    body: str
    depth: int
    created_at: datetime
    _row: strawberry.Private[m.Comment]

    @classmethod
    def from_row(cls, row: m.Comment) -> Comment:
        # Plain fields from their one declaration, shared with compiled plans (api/plans/fields.py).
        return cls(id=row.id, _row=row, **fields.values(fields.COMMENT, row))

    @strawberry.field(description="The global id of the comment this replies to.")
    def parent_id(self) -> strawberry.ID | None:
        if self._row.parent_id is None:
            return None
        return strawberry.ID(encode_id("Comment", self._row.parent_id))

    @strawberry.field
    async def author(self, info: Info) -> Member:
        return Member.from_row(await info.context.loaders.member.load(self._row.author_id))

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        rows = await info.context.loaders.comment.load_many([int(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(name="CommentConnection")
class CommentConnection(Connection[Comment]):
    pass


async def comment_connection(
    info: Info, idea_id: int, *, first: int | None, after: str | None
) -> CommentConnection:
    rule = visibility.listed_comment_rule(info.context.audience)
    query = rule.apply(m.Comment.filter(idea_id=idea_id))
    page = await id_page(query, first, after, newest_first=False)
    return CommentConnection.from_page(page, Comment.from_row, query.count)
