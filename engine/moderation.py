"""Flags and moderation: members report, the brand decides, every step is in the audit log.

An IP_INFRINGEMENT flag freezes the idea at once (no interactions; its webhooks are held) until the
brand resolves it: the DataPortability logo lesson. Enough distinct SPAM or ABUSE reports hide the
target pending review (the tenant's ``auto_hide_after`` rule, 3 by default). Every audit-log entry
records its actor: the member, the brand's secret key, a console user, or the rule that acted. Flagging is a privilege of members from the tenant's flag level (reputation
rules, level 1 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tortoise.queryset import QuerySet

from engine import counters, events, payloads, ranking
from engine.clock import iso, utcnow
from engine.errors import DomainError, ErrorCode, NotFound
from engine.events import EventType
from engine.ideas import get_idea
from engine.models.campaigns import Campaign
from engine.models.ideas import Idea
from engine.models.interactions import Comment
from engine.models.members import Member
from engine.models.moderation import (
    ActorKind,
    Flag,
    FlagReason,
    FlagStatus,
    ModerationAction,
    ModerationEntry,
)
from engine.reputation.levels import ensure_can_flag
from engine.reputation.rules import DEFAULT_RULES, rules_for_tenant
from engine.text import NOTE_MAX, check_text, clean, require_texts

# The default of the tenant's ``auto_hide_after`` rule (engine.reputation.rules).
AUTO_HIDE_AFTER = DEFAULT_RULES.auto_hide_after
_HIDING_REASONS = (FlagReason.SPAM, FlagReason.ABUSE)


@dataclass(frozen=True)
class Actor:
    """Who takes a moderation step; every audit-log entry records one (docs/architecture.md)."""

    kind: ActorKind
    id: int | None = None
    label: str = ""

    @classmethod
    def member(cls, member: Member) -> Actor:
        # No name copied into the log: the member row is the one place erasure anonymises.
        return cls(ActorKind.MEMBER, member.id)

    @classmethod
    def secret_key(cls, key_id: int, label: str) -> Actor:
        return cls(ActorKind.SECRET_KEY, key_id, label)

    @classmethod
    def console_user(cls, user_id: int, name: str) -> Actor:
        return cls(ActorKind.CONSOLE_USER, user_id, name)

    @classmethod
    def rule(cls, name: str) -> Actor:
        return cls(ActorKind.SYSTEM, None, name)


# The automatic rules that act on their own.
IP_FREEZE_RULE = Actor.rule("ip-report-freeze")
AUTO_HIDE_RULE = Actor.rule("auto-hide")


class Decision(str, Enum):
    UPHOLD = "UPHOLD"
    DISMISS = "DISMISS"


@dataclass(frozen=True)
class _Target:
    idea: Idea
    comment: Comment | None

    @property
    def hidden(self) -> bool:
        return self.comment.hidden if self.comment else self.idea.hidden

    @property
    def author_id(self) -> int:
        return self.comment.author_id if self.comment else self.idea.author_id


async def _target(idea_id: int, comment_id: int | None) -> _Target:
    # The comment's row before the idea's (docs/architecture.md, "Lock order").
    comment = None
    if comment_id is not None:
        comment = (
            await Comment.filter(id=comment_id, idea_id=idea_id)
            .select_for_update(no_key=True)
            .first()
        )
    idea = await get_idea(idea_id, "ideaId", for_update=True)
    if comment_id is not None and comment is None:
        raise NotFound("comment", "commentId")
    return _Target(idea, comment)


async def _log(
    action: ModerationAction,
    target: _Target,
    actor: Actor | None,
    *,
    flag: Flag | None = None,
    note: str = "",
) -> None:
    await ModerationEntry.create(
        action=action,
        idea_id=target.idea.id,
        comment_id=target.comment.id if target.comment else None,
        flag_id=flag.id if flag else None,
        actor_member_id=actor.id if actor and actor.kind == ActorKind.MEMBER else None,
        actor_kind=actor.kind if actor else None,
        actor_id=actor.id if actor and actor.kind != ActorKind.MEMBER else None,
        actor_label=(actor.label if actor else "")[:120],
        note=note,
    )


async def _set_hidden(target: _Target, hidden: bool) -> None:
    if target.comment is not None:
        target.comment.hidden = hidden
        await target.comment.save(update_fields=["hidden"])
        campaign = await Campaign.get(id=target.idea.campaign_id)
        await counters.bump(
            target.idea.id,
            target.idea.created_at,
            {"comment_count": -1 if hidden else 1},
            rules=ranking.rules_of(campaign),
        )
    else:
        target.idea.hidden = hidden
        await target.idea.save(update_fields=["hidden", "updated_at"])


async def flag(
    member: Member,
    idea_id: int,
    reason: FlagReason,
    note: str = "",
    comment_id: int | None = None,
) -> Flag:
    require_texts(check_text(note, field="note", max_len=NOTE_MAX, required=False))
    async with events.unit_of_work():
        target = await _target(idea_id, comment_id)
        if target.idea.hidden:
            raise NotFound("idea", "ideaId")
        rules = await rules_for_tenant()
        ensure_can_flag(member, rules)
        if target.author_id == member.id:
            raise DomainError(ErrorCode.INVALID, "you cannot flag your own contribution", "ideaId")
        if await Flag.filter(
            idea_id=target.idea.id,
            comment_id=comment_id,
            reporter_id=member.id,
            status=FlagStatus.OPEN,
        ).exists():
            raise DomainError(ErrorCode.ALREADY_EXISTS, "you already flagged this; it is in review")
        row = await Flag.create(
            idea_id=target.idea.id,
            comment_id=comment_id,
            reporter_id=member.id,
            reason=reason,
            note=clean(note),
        )
        await _log(ModerationAction.FLAGGED, target, Actor.member(member), flag=row, note=row.note)
        if reason == FlagReason.IP_INFRINGEMENT and not target.idea.frozen:
            target.idea.frozen = True
            await target.idea.save(update_fields=["frozen", "updated_at"])
            await _log(
                ModerationAction.FROZEN,
                target,
                IP_FREEZE_RULE,
                flag=row,
                note="frozen pending review of an IP infringement report",
            )
        if reason in _HIDING_REASONS and not target.hidden:
            reporters = (
                await Flag.filter(
                    idea_id=target.idea.id,
                    comment_id=comment_id,
                    status=FlagStatus.OPEN,
                    reason__in=list(_HIDING_REASONS),
                )
                .distinct()
                .values_list("reporter_id", flat=True)
            )
            if len(set(reporters)) >= rules.auto_hide_after:
                await _set_hidden(target, True)
                await _log(
                    ModerationAction.AUTO_HIDDEN,
                    target,
                    AUTO_HIDE_RULE,
                    flag=row,
                    note=f"{len(set(reporters))} members reported it; hidden pending review",
                )
        await _record_flagged(target, row)
    return row


async def _record_flagged(target: _Target, row: Flag) -> None:
    idea = target.idea
    campaign = await Campaign.get(id=idea.campaign_id)
    author = await Member.get(id=idea.author_id)
    await events.record(
        EventType.IDEA_FLAGGED,
        {
            "idea": payloads.idea(idea, campaign, author, counters.counters_of(idea)),
            "flag": {
                "id": payloads.global_id("Flag", row.id),
                "reason": row.reason.value,
                "createdAt": iso(utcnow()),
            },
            "comment": {"id": payloads.global_id("Comment", target.comment.id)}
            if target.comment
            else None,
            "frozen": idea.frozen,
            "hidden": target.hidden,
        },
        campaign_id=idea.campaign_id,
        idea_id=idea.id,
        member_id=row.reporter_id,
    )


async def resolve_flag(
    flag_id: int,
    decision: Decision,
    note: str = "",
    hide: bool | None = None,
    *,
    actor: Actor | None = None,
) -> Flag:
    """Uphold (optionally hiding the target) or dismiss.

    A freeze lasts while any IP report on the idea is open or upheld: dismissing a later report
    never lifts a freeze the brand upheld.
    """
    require_texts(check_text(note, field="note", max_len=NOTE_MAX, required=False))
    async with events.unit_of_work():
        row = await Flag.filter(id=flag_id).select_for_update(no_key=True).first()
        if row is None:
            raise NotFound("flag", "flagId")
        if row.status != FlagStatus.OPEN:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                f"this flag was already {row.status.value.lower()}",
                "flagId",
            )
        target = await _target(row.idea_id, row.comment_id)
        row.status = FlagStatus.UPHELD if decision == Decision.UPHOLD else FlagStatus.DISMISSED
        row.resolved_at = utcnow()
        row.resolution_note = clean(note)
        await row.save(update_fields=["status", "resolved_at", "resolution_note"])
        action = (
            ModerationAction.UPHELD if decision == Decision.UPHOLD else ModerationAction.DISMISSED
        )
        await _log(action, target, actor, flag=row, note=row.resolution_note)
        open_flags = Flag.filter(
            idea_id=row.idea_id, comment_id=row.comment_id, status=FlagStatus.OPEN
        )
        if decision == Decision.UPHOLD and hide and not target.hidden:
            await _set_hidden(target, True)
            await _log(ModerationAction.HIDDEN, target, actor, flag=row, note=row.resolution_note)
        elif decision == Decision.DISMISS and target.hidden and hide is not True:
            auto_hidden = await ModerationEntry.filter(
                idea_id=row.idea_id, comment_id=row.comment_id, action=ModerationAction.AUTO_HIDDEN
            ).exists()
            if (
                auto_hidden
                and not await open_flags.filter(reason__in=list(_HIDING_REASONS)).exists()
            ):
                await _set_hidden(target, False)
                await _log(
                    ModerationAction.UNHIDDEN,
                    target,
                    actor,
                    flag=row,
                    note="reports dismissed; visible again",
                )
        if (
            row.reason == FlagReason.IP_INFRINGEMENT
            and decision == Decision.DISMISS
            and target.idea.frozen
            and not await _freezing_reports(row.idea_id).exists()
        ):
            target.idea.frozen = False
            await target.idea.save(update_fields=["frozen", "updated_at"])
            await _log(ModerationAction.UNFROZEN, target, actor, flag=row, note=row.resolution_note)
            await events.record(
                EventType.IDEA_UNFROZEN,
                {"ideaId": row.idea_id},
                campaign_id=target.idea.campaign_id,
                idea_id=row.idea_id,
            )
        await events.record(
            EventType.FLAG_RESOLVED,
            {
                "flagId": row.id,
                "ideaId": row.idea_id,
                "commentId": row.comment_id,
                "reporterId": row.reporter_id,
                "reason": row.reason.value,
                "decision": decision.value,
                "authorId": target.author_id,
            },
            campaign_id=target.idea.campaign_id,
            idea_id=row.idea_id,
        )
    return row


def _freezing_reports(idea_id: int) -> QuerySet[Flag]:
    """IP reports that keep an idea frozen: open ones, and upheld ones (the brand agreed)."""
    return Flag.filter(
        idea_id=idea_id,
        reason=FlagReason.IP_INFRINGEMENT,
        status__in=[FlagStatus.OPEN, FlagStatus.UPHELD],
    )


async def is_frozen(idea_id: int) -> bool:
    """Webhooks ask this before sending anything about an idea: frozen ideas' webhooks are held."""
    return await Idea.filter(id=idea_id, frozen=True).exists()
