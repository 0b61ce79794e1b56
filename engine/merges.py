"""Merging duplicate ideas, reversibly.

A merge copies each supporter's vote, score and pledge from the source idea onto the target, unless
that member already has their own on the target (each member is counted once) or authored the
target (no self-votes). Every copy is recorded as a MergeTransfer; unmerge reverts exactly those
copies that nobody changed since, and reopens the source. Source rows are left untouched, so the
source's history stays as it was.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine import counters, events, payloads
from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.ideas import get_idea
from engine.models.campaigns import Campaign, CampaignMode, ThresholdMetric
from engine.models.ideas import Idea
from engine.models.interactions import Pledge, Score, Vote
from engine.models.members import Member
from engine.models.merges import IdeaMerge, MergeTransfer, TransferKind
from engine.ranking import Counters
from engine.text import NOTE_MAX, check_text, clean, require_texts
from engine.thresholds import record_crossings

_ALL_METRICS = frozenset(ThresholdMetric)


async def _lock_pair(source_id: int, target_id: int) -> tuple[Idea, Idea]:
    # Always lock the lower id first: two merges of the same pair cannot deadlock.
    locked = {}
    for idea_id, field in sorted([(source_id, "ideaId"), (target_id, "intoIdeaId")]):
        locked[idea_id] = await get_idea(idea_id, field, for_update=True)
    return locked[source_id], locked[target_id]


async def merge_ideas(source_id: int, target_id: int, note: str = "") -> IdeaMerge:
    require_texts(check_text(note, field="note", max_len=NOTE_MAX, required=False))
    if source_id == target_id:
        raise DomainError(ErrorCode.INVALID, "an idea cannot be merged into itself", "intoIdeaId")
    async with events.unit_of_work():
        source, target = await _lock_pair(source_id, target_id)
        _check_mergeable(source, target)
        if await Idea.filter(merged_into_id=source.id).exists():
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "other ideas were merged into this one; unmerge them first",
                "ideaId",
            )
        merge = await IdeaMerge.create(source_id=source.id, target_id=target.id, note=clean(note))
        deltas: Counter[str] = Counter()
        transfers = [
            *await _copy_votes(merge, source, target, deltas),
            *await _copy_scores(merge, source, target, deltas),
            *await _copy_pledges(merge, source, target, deltas),
        ]
        if transfers:
            await MergeTransfer.bulk_create(transfers)
        campaign, new_counters = await _bump_target(target, deltas)
        source.merged_into_id = target.id
        await source.save(update_fields=["merged_into_id", "updated_at"])
        await _record(
            EventType.IDEA_MERGED,
            merge,
            source,
            target,
            campaign,
            new_counters,
            target_key="into",
            tally_key="moved",
            tally=Counter(t.kind.value for t in transfers),
            note=merge.note,
        )
        await record_crossings(target, campaign, new_counters, _ALL_METRICS)
    return merge


def _check_mergeable(source: Idea, target: Idea) -> None:
    if source.campaign_id != target.campaign_id:
        raise DomainError(ErrorCode.INVALID, "only ideas of the same campaign merge", "intoIdeaId")
    if source.merged_into_id is not None:
        raise DomainError(ErrorCode.IDEA_CLOSED, "this idea is already merged", "ideaId")
    if target.merged_into_id is not None:
        raise DomainError(
            ErrorCode.IDEA_CLOSED, "the target was itself merged into another idea", "intoIdeaId"
        )


async def _copy_votes(
    merge: IdeaMerge, source: Idea, target: Idea, deltas: Counter[str]
) -> list[MergeTransfer]:
    moved: list[MergeTransfer] = []
    source_votes = await Vote.filter(idea_id=source.id).exclude(value=0).order_by("id")
    members = [v.member_id for v in source_votes]
    existing = {
        v.member_id: v
        for v in await Vote.filter(idea_id=target.id, member_id__in=members).select_for_update()
    }
    for vote in source_votes:
        if vote.member_id == target.author_id:
            continue
        on_target = existing.get(vote.member_id)
        if on_target is not None and on_target.value != 0:
            continue  # their own vote on the target counts; never twice
        if on_target is None:
            on_target = await Vote.create(
                idea_id=target.id, member_id=vote.member_id, value=vote.value, version=1
            )
        else:
            on_target.value = vote.value
            on_target.version += 1
            await on_target.save(update_fields=["value", "version", "updated_at"])
        deltas["upvotes"] += vote.value == 1
        deltas["downvotes"] += vote.value == -1
        deltas["net_votes"] += vote.value
        moved.append(
            MergeTransfer(
                tenant_id=merge.tenant_id,
                merge_id=merge.id,
                kind=TransferKind.VOTE,
                member_id=vote.member_id,
                target_row_id=on_target.id,
                value=vote.value,
                previous_value=0,
                version_after=on_target.version,
            )
        )
    return moved


async def _copy_scores(
    merge: IdeaMerge, source: Idea, target: Idea, deltas: Counter[str]
) -> list[MergeTransfer]:
    moved: list[MergeTransfer] = []
    rows = await Score.filter(idea_id=source.id).exclude(value=0).order_by("id")
    existing = {
        s.member_id: s
        for s in await Score.filter(
            idea_id=target.id, member_id__in=[r.member_id for r in rows]
        ).select_for_update()
    }
    for score in rows:
        on_target = existing.get(score.member_id)
        if score.member_id == target.author_id or (on_target is not None and on_target.value):
            continue
        if on_target is None:
            on_target = await Score.create(
                idea_id=target.id, member_id=score.member_id, value=score.value
            )
        else:
            on_target.value = score.value
            await on_target.save(update_fields=["value", "updated_at"])
        deltas["score_sum"] += score.value
        deltas["score_count"] += 1
        moved.append(
            MergeTransfer(
                tenant_id=merge.tenant_id,
                merge_id=merge.id,
                kind=TransferKind.SCORE,
                member_id=score.member_id,
                target_row_id=on_target.id,
                value=score.value,
                previous_value=0,
            )
        )
    return moved


async def _copy_pledges(
    merge: IdeaMerge, source: Idea, target: Idea, deltas: Counter[str]
) -> list[MergeTransfer]:
    moved: list[MergeTransfer] = []
    rows = await Pledge.filter(idea_id=source.id, quantity__gt=0).order_by("id")
    existing = {
        p.member_id: p
        for p in await Pledge.filter(
            idea_id=target.id, member_id__in=[r.member_id for r in rows]
        ).select_for_update()
    }
    for pledge in rows:
        on_target = existing.get(pledge.member_id)
        if on_target is not None and on_target.quantity > 0:
            continue
        if on_target is None:
            on_target = await Pledge.create(
                idea_id=target.id, member_id=pledge.member_id, quantity=pledge.quantity
            )
        else:
            on_target.quantity = pledge.quantity
            await on_target.save(update_fields=["quantity", "updated_at"])
        deltas["pledgers"] += 1
        deltas["pledged_quantity"] += pledge.quantity
        moved.append(
            MergeTransfer(
                tenant_id=merge.tenant_id,
                merge_id=merge.id,
                kind=TransferKind.PLEDGE,
                member_id=pledge.member_id,
                target_row_id=on_target.id,
                value=pledge.quantity,
                previous_value=0,
            )
        )
    return moved


async def unmerge_idea(source_id: int) -> IdeaMerge:
    """Reopen a merged idea and take back the copies its merge made that are still as copied."""
    async with events.unit_of_work():
        source = await get_idea(source_id, "ideaId")
        if source.merged_into_id is None:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "this idea is not merged", "ideaId")
        source, target = await _lock_pair(source.id, source.merged_into_id)
        merge = await IdeaMerge.filter(source_id=source.id, undone_at=None).order_by("-id").first()
        if merge is None or source.merged_into_id != target.id:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "this idea is not merged", "ideaId")
        deltas: Counter[str] = Counter()
        reverted = Counter[str]()
        for transfer in await MergeTransfer.filter(merge_id=merge.id).order_by("id"):
            if await _revert(transfer, deltas):
                reverted[transfer.kind.value] += 1
        campaign, new_counters = await _bump_target(target, deltas)
        source.merged_into_id = None
        await source.save(update_fields=["merged_into_id", "updated_at"])
        merge.undone_at = utcnow()
        await merge.save(update_fields=["undone_at"])
        await _record(
            EventType.IDEA_UNMERGED,
            merge,
            source,
            target,
            campaign,
            new_counters,
            target_key="from",
            tally_key="reverted",
            tally=reverted,
        )
    return merge


async def _bump_target(target: Idea, deltas: Counter[str]) -> tuple[Campaign, Counters]:
    campaign = await Campaign.get(id=target.campaign_id)
    contest = campaign.mode == CampaignMode.CONTEST
    return campaign, await counters.bump(target.id, target.created_at, contest=contest, **deltas)


async def _record(
    type_: str,
    merge: IdeaMerge,
    source: Idea,
    target: Idea,
    campaign: Campaign,
    target_counters: Counters,
    *,
    target_key: str,
    tally_key: str,
    tally: Counter[str],
    **extra: Any,
) -> None:
    authors = {m.id: m for m in await Member.filter(id__in=[source.author_id, target.author_id])}
    await events.record(
        type_,
        {
            "mergeId": merge.id,
            "idea": payloads.idea(
                source, campaign, authors[source.author_id], counters.counters_of(source)
            ),
            target_key: payloads.idea(target, campaign, authors[target.author_id], target_counters),
            tally_key: {
                "votes": tally["VOTE"],
                "scores": tally["SCORE"],
                "pledges": tally["PLEDGE"],
            },
            **extra,
        },
        campaign_id=campaign.id,
        idea_id=source.id,
        member_id=source.author_id,
    )


async def _revert(transfer: MergeTransfer, deltas: Counter[str]) -> bool:
    """Undo one copy if the row still holds what the merge put there; members' later choices stay."""
    if transfer.kind == TransferKind.VOTE:
        vote = await Vote.filter(id=transfer.target_row_id).select_for_update().first()
        if vote is None or vote.version != transfer.version_after or vote.value != transfer.value:
            return False
        vote.value = transfer.previous_value
        vote.version += 1
        await vote.save(update_fields=["value", "version", "updated_at"])
        deltas["upvotes"] -= transfer.value == 1
        deltas["downvotes"] -= transfer.value == -1
        deltas["net_votes"] -= transfer.value
        return True
    if transfer.kind == TransferKind.SCORE:
        score = await Score.filter(id=transfer.target_row_id).select_for_update().first()
        if score is None or score.value != transfer.value:
            return False
        score.value = transfer.previous_value
        await score.save(update_fields=["value", "updated_at"])
        deltas["score_sum"] -= transfer.value
        deltas["score_count"] -= 1
        return True
    pledge = await Pledge.filter(id=transfer.target_row_id).select_for_update().first()
    if pledge is None or pledge.quantity != transfer.value:
        return False
    pledge.quantity = transfer.previous_value
    await pledge.save(update_fields=["quantity", "updated_at"])
    deltas["pledgers"] -= 1
    deltas["pledged_quantity"] -= transfer.value
    return True
