"""Ideas: submitted by members, moved through statuses by the brand with an official note."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from tortoise import connections

from engine import events, payloads
from engine.clock import iso, utcnow
from engine.counters import counters_of
from engine.eligibility import ensure_can_participate
from engine.errors import DomainError, ErrorCode, NotFound
from engine.events import EventType
from engine.models.campaigns import Campaign
from engine.models.ideas import Idea, IdeaStatus, IdeaStatusChange
from engine.models.members import Member
from engine.ranking import ranks, rules_of
from engine.tenancy import current_tenant_id
from engine.text import BODY_MAX, NOTE_MAX, TITLE_MAX, check_text, clean, require_texts


@dataclass(frozen=True)
class IdeaInput:
    campaign_id: int
    title: str
    body: str
    # The terms version the member saw and accepted; required when the campaign has terms.
    accepted_terms_version: int | None = None


async def submit_idea(member: Member, data: IdeaInput) -> Idea:
    require_texts(
        check_text(data.title, field="title", max_len=TITLE_MAX, min_len=3),
        check_text(data.body, field="body", max_len=BODY_MAX),
    )
    async with events.unit_of_work():
        campaign = await _campaign_key_shared(data.campaign_id)
        if campaign is None:
            raise NotFound("campaign", "campaignId")
        ensure_can_participate(member, campaign)
        _ensure_terms(campaign, data.accepted_terms_version)
        now = utcnow()
        idea = Idea(
            campaign_id=campaign.id,
            author_id=member.id,
            title=clean(data.title),
            body=clean(data.body),
            terms_version=campaign.terms_version,
            created_at=now,
        )
        for name, value in ranks(counters_of(idea), now, rules_of(campaign)).items():
            setattr(idea, name, value)
        await idea.save()
        await events.record(
            EventType.IDEA_CREATED,
            {"idea": payloads.idea(idea, campaign, member, counters_of(idea))},
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=member.id,
        )
    return idea


async def _campaign_key_shared(campaign_id: int) -> Campaign | None:
    """The campaign, read under FOR KEY SHARE on PostgreSQL: the lock the new idea's foreign key
    takes anyway, taken before its values are read. A campaign change in flight (a new HOT
    half-life, whose recompute cannot see this idea yet) commits first, and the idea's sort keys
    use the new value (docs/architecture.md, "Discovery and community health")."""
    if connections.get("default").capabilities.dialect != "postgres":
        return await Campaign.get_or_none(id=campaign_id)
    rows: Any = await Campaign.raw(
        f"SELECT * FROM campaign WHERE id = {int(campaign_id)}"
        f" AND tenant_id = {int(current_tenant_id())} FOR KEY SHARE"
    )
    return cast(Campaign, rows[0]) if rows else None


def _ensure_terms(campaign: Campaign, accepted: int | None) -> None:
    if campaign.terms_version == 0:
        return
    if accepted is None:
        raise DomainError(
            ErrorCode.TERMS_NOT_ACCEPTED,
            f"accept the contribution terms (version {campaign.terms_version}) to submit",
            "acceptedTermsVersion",
        )
    if accepted != campaign.terms_version:
        raise DomainError(
            ErrorCode.TERMS_VERSION_MISMATCH,
            f"the terms changed: version {campaign.terms_version} is current, you accepted {accepted}",
            "acceptedTermsVersion",
        )


async def get_idea(idea_id: int, field: str = "id", *, for_update: bool = False) -> Idea:
    query = Idea.filter(id=idea_id)
    if for_update:
        # FOR NO KEY UPDATE: rows that merely reference the idea (votes, entries, events) take
        # KEY SHARE on it, which this lock does not block (docs/architecture.md, "Lock order").
        query = query.select_for_update(no_key=True)
    idea = await query.first()
    if idea is None:
        raise NotFound("idea", field)
    return idea


async def set_idea_status(idea_id: int, status: IdeaStatus, note: str = "") -> IdeaStatusChange:
    """Record the brand's official response; a same-status call adds a note (idea.responded only)."""
    require_texts(check_text(note, field="note", max_len=NOTE_MAX, required=False))
    async with events.unit_of_work():
        idea = await get_idea(idea_id, "ideaId", for_update=True)
        previous = idea.status
        change = await IdeaStatusChange.create(
            idea_id=idea.id, from_status=previous, to_status=status, note=clean(note or "")
        )
        campaign = await Campaign.get(id=idea.campaign_id)
        author = await Member.get(id=idea.author_id)
        if status != previous:
            idea.status = status
            await idea.save(update_fields=["status", "updated_at"])
            await events.record(
                EventType.IDEA_STATUS_CHANGED,
                {
                    "idea": payloads.idea(idea, campaign, author, counters_of(idea)),
                    "previousStatus": previous.value,
                    "status": status.value,
                    "note": change.note,
                },
                campaign_id=idea.campaign_id,
                idea_id=idea.id,
                member_id=idea.author_id,
            )
        # Every official response, status change or not: a CRM tells the author (with email).
        await events.record(
            EventType.IDEA_RESPONDED,
            {
                "idea": payloads.idea(idea, campaign, author, counters_of(idea)),
                "author": payloads.member_ref(author, with_email=True),
                "response": {
                    "previousStatus": previous.value,
                    "status": status.value,
                    "note": change.note,
                    "respondedAt": iso(change.created_at),
                },
            },
            campaign_id=idea.campaign_id,
            idea_id=idea.id,
            member_id=idea.author_id,
        )
    return change


async def idea_with_campaign(idea_id: int, field: str = "ideaId") -> tuple[Idea, Campaign]:
    """The idea and its campaign in one statement, unlocked: member actions lock the idea last,
    with their counter update (engine.counters), which re-checks what admission read here."""
    idea = await Idea.filter(id=idea_id).select_related("campaign").first()
    if idea is None:
        raise NotFound("idea", field)
    return idea, idea.campaign


def ensure_interactable(member: Member, idea: Idea, campaign: Campaign) -> None:
    """The checks every member action on an idea shares (engine.counters.Guard re-checks them)."""
    if idea.hidden:
        raise NotFound("idea", "ideaId")
    if idea.merged_into_id is not None:
        raise DomainError(ErrorCode.IDEA_CLOSED, "this idea was merged into another", "ideaId")
    if idea.frozen:
        raise DomainError(ErrorCode.IDEA_FROZEN, "this idea is frozen pending review", "ideaId")
    ensure_can_participate(member, campaign)


async def interactable_idea(idea_id: int, member: Member) -> tuple[Idea, Campaign]:
    """The idea (unlocked) and its campaign, after the checks every action shares."""
    idea, campaign = await idea_with_campaign(idea_id)
    ensure_interactable(member, idea, campaign)
    return idea, campaign
