"""A member's reputation history: ledger entries newest first, each with its reason."""

from __future__ import annotations

from engine.pagination import Page, id_page
from engine.reputation.models import ReputationEntry


async def history(member_id: int, first: int | None, after: str | None) -> Page[ReputationEntry]:
    return await id_page(ReputationEntry.filter(member_id=member_id), first, after)


async def history_count(member_id: int) -> int:
    return await ReputationEntry.filter(member_id=member_id).count()
