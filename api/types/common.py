"""Shapes shared by every part of the schema: connections, page info, user errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Self, TypeAlias, TypeVar

import strawberry

from engine.errors import DomainError, ErrorCode
from engine.pagination import Page

T = TypeVar("T")

# strawberry.enum registers the Enum class itself; the alias is its GraphQL-side name for mypy.
strawberry.enum(ErrorCode, name="UserErrorCode")
UserErrorCode: TypeAlias = ErrorCode


@strawberry.type(description="A validation or business-rule failure; nothing was written.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if any.")
    code: UserErrorCode
    message: str

    @classmethod
    def from_domain(cls, error: DomainError) -> list[UserError]:
        return [cls(field=e.field, code=e.code, message=e.message) for e in error.errors]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


async def _no_total() -> int:
    return 0


@strawberry.type(description="A page of results, newest cursor conventions of Relay.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _total: strawberry.Private[Callable[[], Awaitable[int]]] = _no_total

    @strawberry.field(description="How many items match, across all pages (one COUNT query).")
    async def total_count(self) -> int:
        return await self._total()

    @classmethod
    def from_page(
        cls, page: Page[Any], convert: Callable[[Any], T], total: Callable[[], Awaitable[int]]
    ) -> Self:
        return cls.build(
            [convert(item) for item in page.items],
            page.cursors,
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            total=total,
        )

    @classmethod
    def build(
        cls,
        nodes: list[T],
        cursors: list[str],
        *,
        has_next_page: bool,
        has_previous_page: bool,
        total: Callable[[], Awaitable[int]],
    ) -> Self:
        return cls(
            edges=[Edge(cursor=c, node=n) for n, c in zip(nodes, cursors, strict=True)],
            page_info=PageInfo(
                has_next_page=has_next_page,
                has_previous_page=has_previous_page,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            _total=total,
        )
