"""Merging duplicate ideas, reversibly.

A merge copies each supporter's vote, score and pledge from the source idea onto the target, unless
that member already has their own on the target (each member is counted once) or authored the
target (no self-votes). Every copy is recorded as a MergeTransfer; unmerge reverts exactly those
copies that nobody changed since, and reopens the source. Source rows are left untouched, so the
source's history stays as it was.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from engine import counters, events, payloads, ranking
from engine.clock import utcnow
from engine.conflicts import Conflict, is_unique_violation, retrying
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.ideas import get_idea
from engine.interactions import Kind
from engine.models.campaigns import Campaign, ThresholdMetric
from engine.models.ideas import Idea
from engine.models.interactions import Pledge, Vote
from engine.models.members import Member
from engine.models.merges import IdeaMerge, MergeTransfer, TransferKind
from engine.pledges import PLEDGES
from engine.ranking import Counters
from engine.scores import SCORES
from engine.text import NOTE_MAX, check_text, clean, require_texts
from engine.thresholds import record_crossings
from engine.votes import VOTES

_ALL_METRICS = frozenset(ThresholdMetric)


async def merge_ideas(source_id: int, target_id: int, note: str = "") -> IdeaMerge:
    require_texts(check_text(note, field="note", max_len=NOTE_MAX, required=False))
    _check_pair(source_id, target_id)
    return await retrying(lambda: _merge(source_id, target_id, clean(note)))


def _check_pair(source_id: int, target_id: int) -> None:
    if source_id == target_id:
        raise DomainError(ErrorCode.INVALID, "an idea cannot be merged into itself", "intoIdeaId")


@dataclass(frozen=True)
class MergePreview:
    """What merging would move, so the brand sees the numbers before it confirms.

    Read without locks or writes; the merge itself re-reads everything under its locks, so a
    vote cast in between can make the real move differ by that vote.
    """

    source: Counters
    target: Counters
    target_after: Counters
    moved_upvotes: int
    moved_downvotes: int
    moved_scores: int
    moved_pledges: int
    moved_pledged_quantity: int
    # Distinct members with at least one vote, score or pledge that moves.
    moved_supporters: int
    # Supporters of the source whose own choice on the target stays (or who wrote the target).
    counted_once: int
    # Comments stay on the source (it keeps its thread and history).
    source_comments: int


async def merge_preview(source_id: int, target_id: int) -> MergePreview:
    _check_pair(source_id, target_id)
    source = await get_idea(source_id, "ideaId")
    target = await get_idea(target_id, "intoIdeaId")
    await _check_mergeable(source, target)
    deltas: Counter[str] = Counter()
    moved: dict[TransferKind, list[Any]] = {}
    everyone: set[int] = set()
    for kind in _KINDS:
        rows = await _supporters(kind, source.id)
        everyone.update(r.member_id for r in rows)
        moved[kind] = _moving(kind, rows, target, await _on_target(kind, rows, target, lock=False))
        for row in moved[kind]:
            deltas.update(_deltas(kind, getattr(row, _KINDS[kind][0].column)))
    movers = {r.member_id for rows in moved.values() for r in rows}
    backing = {r.member_id for r in moved[TransferKind.PLEDGE]} | {
        r.member_id for r in moved[TransferKind.VOTE] if r.value > 0
    }
    before = counters.counters_of(target)
    return MergePreview(
        source=counters.counters_of(source),
        target=before,
        target_after=await _after(target, before, deltas, backing),
        moved_upvotes=sum(1 for r in moved[TransferKind.VOTE] if r.value > 0),
        moved_downvotes=sum(1 for r in moved[TransferKind.VOTE] if r.value < 0),
        moved_scores=len(moved[TransferKind.SCORE]),
        moved_pledges=len(moved[TransferKind.PLEDGE]),
        moved_pledged_quantity=sum(r.quantity for r in moved[TransferKind.PLEDGE]),
        moved_supporters=len(movers),
        counted_once=len(everyone - movers),
        source_comments=source.comment_count,
    )


async def _after(
    target: Idea, before: Counters, deltas: Counter[str], backing: set[int]
) -> Counters:
    """The target's counters once ``deltas`` land; supporters recounted as engine.supporters
    does (each member once across the target's own rows and the copies)."""
    values = {name: getattr(before, name) + deltas.get(name, 0) for name in asdict(before)}
    own = set(
        await Vote.filter(idea_id=target.id, value=1).values_list("member_id", flat=True)
    ) | set(
        await Pledge.filter(idea_id=target.id, quantity__gt=0).values_list("member_id", flat=True)
    )
    people = await Member.filter(id__in=own | backing).values_list(
        "customer_value_cents", "verified"
    )
    values["supporter_count"] = len(people)
    values["supporter_value_cents"] = sum(int(v or 0) for v, _ in people)
    values["supporter_verified_count"] = sum(1 for _, verified in people if verified)
    return Counters(**values)


async def _merge(source_id: int, target_id: int, note: str) -> IdeaMerge:
    """Lock order (docs/architecture.md, "Lock order"): the idea being retired first, then the
    target's rows the copy writes, then the target idea.

    With the source locked, no action on it can commit (its guarded counter update waits, then
    finds the source merged), so the supporters read here are all there are.
    """
    async with events.unit_of_work():
        source = await get_idea(source_id, "ideaId", for_update=True)
        target = await get_idea(target_id, "intoIdeaId")
        await _check_mergeable(source, target)
        merge = await IdeaMerge.create(source_id=source.id, target_id=target.id, note=note)
        deltas: Counter[str] = Counter()
        transfers: list[MergeTransfer] = []
        for kind in _KINDS:
            rows = await _supporters(kind, source.id)
            transfers += await _copy(kind, merge, rows, target, deltas)
        target = await get_idea(target.id, "intoIdeaId", for_update=True)
        await _check_mergeable(source, target)
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


async def _check_mergeable(source: Idea, target: Idea) -> None:
    if source.campaign_id != target.campaign_id:
        raise DomainError(ErrorCode.INVALID, "only ideas of the same campaign merge", "intoIdeaId")
    if source.merged_into_id is not None:
        raise DomainError(ErrorCode.IDEA_CLOSED, "this idea is already merged", "ideaId")
    if target.merged_into_id is not None:
        raise DomainError(
            ErrorCode.IDEA_CLOSED, "the target was itself merged into another idea", "intoIdeaId"
        )
    if await Idea.filter(merged_into_id=source.id).exists():
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "other ideas were merged into this one; unmerge them first",
            "ideaId",
        )


def _deltas(kind: TransferKind, value: int, sign: int = 1) -> Counter[str]:
    """How one vote, score or pledge of ``value`` moves the idea counters (sign -1 takes it back)."""
    moves = _KINDS[kind][0].deltas
    return Counter(moves(0, value) if sign > 0 else moves(value, 0))


# Per kind: what a member action of that kind is (its table, value column and counter deltas) and
# whether the target's author may hold one (pledging for your own idea is fine; voting or scoring
# it is not). Listed in the order merges lock the target's rows.
_KINDS: dict[TransferKind, tuple[Kind, bool]] = {
    TransferKind.VOTE: (VOTES, False),
    TransferKind.SCORE: (SCORES, False),
    TransferKind.PLEDGE: (PLEDGES, True),
}
_KIND_ORDER = {kind: index for index, kind in enumerate(_KINDS)}


async def _supporters(kind: TransferKind, idea_id: int) -> list[Any]:
    action = _KINDS[kind][0]
    query = action.model.filter(idea_id=idea_id).exclude(**{action.column: 0})
    if kind == TransferKind.VOTE:
        query = query.filter(discounted_by=None)  # serial votes count nowhere (vote_reversal)
    return list(await query.order_by("id"))


async def _on_target(
    kind: TransferKind, rows: list[Any], target: Idea, *, lock: bool
) -> dict[int, Any]:
    """The target's own rows of this kind for the source's supporters, by member."""
    model = _KINDS[kind][0].model
    query = model.filter(idea_id=target.id, member_id__in=[r.member_id for r in rows])
    query = query.order_by("id")
    return {r.member_id: r for r in await (query.select_for_update() if lock else query)}


def _moving(
    kind: TransferKind, rows: list[Any], target: Idea, existing: dict[int, Any]
) -> list[Any]:
    """The source rows a merge copies: no self-votes (a pledge for your own idea is fine), and a
    member's own choice on the target counts, never twice. Shared by the merge and its preview."""
    action, author_may = _KINDS[kind]
    column = action.column
    return [
        row
        for row in rows
        if (row.member_id != target.author_id or author_may)
        and not (
            existing.get(row.member_id) is not None and getattr(existing[row.member_id], column)
        )
    ]


async def _copy(
    kind: TransferKind, merge: IdeaMerge, rows: list[Any], target: Idea, deltas: Counter[str]
) -> list[MergeTransfer]:
    """Copy each supporter's row onto the target unless they already have their own there."""
    action = _KINDS[kind][0]
    model, column = action.model, action.column
    existing = await _on_target(kind, rows, target, lock=True)
    moved: list[MergeTransfer] = []
    for row in _moving(kind, rows, target, existing):
        value = getattr(row, column)
        on_target = existing.get(row.member_id)
        if on_target is None:
            extra = {"version": 1} if action.versioned else {}
            try:
                on_target = await model.create(
                    idea_id=target.id, member_id=row.member_id, **{column: value}, **extra
                )
            except IntegrityError as error:
                if is_unique_violation(error):  # the member acted on the target meanwhile
                    raise Conflict(f"a supporter acted on idea {target.id}") from error
                raise
        else:
            setattr(on_target, column, value)
            fields = [column, "updated_at"]
            if action.versioned:
                on_target.version += 1
                fields.append("version")
            await on_target.save(update_fields=fields)
        deltas.update(_deltas(kind, value))
        moved.append(
            MergeTransfer(
                tenant_id=merge.tenant_id,
                merge_id=merge.id,
                kind=kind,
                member_id=row.member_id,
                target_row_id=on_target.id,
                value=value,
                previous_value=0,
                version_after=on_target.version if action.versioned else 0,
            )
        )
    return moved


async def unmerge_idea(source_id: int) -> IdeaMerge:
    """Reopen a merged idea and take back the copies its merge made that are still as copied."""
    return await retrying(lambda: _unmerge(source_id))


async def _unmerge(source_id: int) -> IdeaMerge:
    # The same lock order as a merge: the source, the target's rows, the target.
    async with events.unit_of_work():
        source = await get_idea(source_id, "ideaId", for_update=True)
        merge = await IdeaMerge.filter(source_id=source.id, undone_at=None).order_by("-id").first()
        if (
            source.merged_into_id is None
            or merge is None
            or merge.target_id != source.merged_into_id
        ):
            raise DomainError(ErrorCode.INVALID_TRANSITION, "this idea is not merged", "ideaId")
        deltas: Counter[str] = Counter()
        reverted = Counter[str]()
        transfers = await MergeTransfer.filter(merge_id=merge.id)
        for transfer in sorted(transfers, key=lambda t: (_KIND_ORDER[t.kind], t.target_row_id)):
            if await _revert(transfer, deltas):
                reverted[transfer.kind.value] += 1
        target = await get_idea(merge.target_id, "intoIdeaId", for_update=True)
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
    bumped = await counters.bump(
        target.id, target.created_at, deltas, rules=ranking.rules_of(campaign)
    )
    return campaign, bumped.counters


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
    action = _KINDS[transfer.kind][0]
    model, column = action.model, action.column
    row = await model.filter(id=transfer.target_row_id).select_for_update().first()
    if row is None or getattr(row, column) != transfer.value:
        return False
    fields = [column, "updated_at"]
    if transfer.kind == TransferKind.VOTE:
        if row.version != transfer.version_after:
            return False  # changed and changed back since: it is the member's choice now
        row.version += 1
        fields.append("version")
    setattr(row, column, transfer.previous_value)
    await row.save(update_fields=fields)
    deltas.update(_deltas(transfer.kind, transfer.value, sign=-1))
    return True
