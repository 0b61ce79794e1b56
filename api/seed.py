"""The demo brand: a coffee roaster with an open idea campaign and a design contest."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from engine import (
    alerts,
    campaigns,
    console,
    ideas,
    keys,
    moderation,
    pledges,
    scores,
    votes,
)
from engine.clock import utcnow
from engine.members import MemberData, upsert_member
from engine.models.campaigns import Campaign, CampaignMode, CampaignStatus, ThresholdMetric
from engine.models.console import ConsoleRole
from engine.models.events import DomainEvent
from engine.models.ideas import Idea, IdeaStatus
from engine.models.members import Member
from engine.models.moderation import FlagReason
from engine.models.tenants import KeyKind, Tenant
from engine.reputation import consumer as reputation
from engine.reputation.levels import can_flag
from engine.reputation.rules import rules_for_tenant
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant
from engine.thresholds import ThresholdSpec

DEMO_SLUG = "demo"
DEMO_CONSOLE_EMAIL = "owner@demo.example"

# The console's moderation views: open flags with their reasons, and an idea hidden after an
# upheld report (listed only under the console's "hidden" filter).
_OPEN_FLAGS = [
    ("Decaf that tastes like coffee", FlagReason.OTHER, "Names a competitor's decaf brand."),
    ("Refill station for beans", FlagReason.DUPLICATE, "We had this idea last spring."),
]
HIDDEN_IDEA = ("Free espresso for life", "Just give everyone free coffee, forever.")

_MEMBERS = [
    ("cus_1001", "Ada", True, "gold"),
    ("cus_1002", "Grace", True, "silver"),
    ("cus_1003", "Linus", False, None),
    ("cus_1004", "Barbara", True, "gold"),
    ("cus_1005", "Ken", True, None),
    ("cus_1006", "Margaret", False, "silver"),
    ("cus_1007", "Dennis", True, None),
    ("cus_1008", "Frances", True, "gold"),
]

_IDEAS = [
    ("Oat-milk cold brew in cans", "Ready to drink, for the commute."),
    ("Refill station for beans", "Bring your own tin and save 10 %."),
    ("Single-origin tasting flights", "Three small cups, three countries."),
    ("Compostable pods", "The current pods end up in landfill."),
    ("Decaf that tastes like coffee", "Swiss water process, medium roast."),
    ("Loyalty card in the app", "Every 10th drink free, without paper."),
]

_DESIGNS = [
    ("Bean constellation tee", "Coffee beans as star signs."),
    ("Latte art wave", "A Hokusai wave made of milk foam."),
    ("Roaster blueprint", "Technical drawing of a drum roaster."),
]


@dataclass(frozen=True)
class Demo:
    tenant: Tenant
    secret_key: str | None
    publishable_key: str
    identity_secret: str
    console_email: str
    console_password: str


async def seed_demo() -> Demo:
    """Create the demo brand once; later runs reuse it and only mint a fresh key pair.

    Every run also gives the demo console owner a fresh random password: nothing fixed to guess
    on a demo server someone left reachable.
    """
    password = secrets.token_urlsafe(12)
    existing = await Tenant.get_or_none(slug=DEMO_SLUG)
    if existing is not None:
        with tenant_scope(existing.id):
            pk = await keys.issue_key(existing.id, KeyKind.PUBLISHABLE, label="demo")
            sk = await keys.issue_key(existing.id, KeyKind.SECRET, label="demo")
            await console.add_user(DEMO_CONSOLE_EMAIL, ConsoleRole.OWNER, password)
        return Demo(
            existing, sk.raw, pk.raw, existing.identity_secret, DEMO_CONSOLE_EMAIL, password
        )
    new = await create_tenant("Demo Roasters", slug=DEMO_SLUG)
    with tenant_scope(new.tenant.id):
        await _populate()
        await console.add_user(DEMO_CONSOLE_EMAIL, ConsoleRole.OWNER, password)
    return Demo(
        new.tenant,
        new.secret_key,
        new.publishable_key,
        new.identity_secret,
        DEMO_CONSOLE_EMAIL,
        password,
    )


async def _populate() -> None:
    rng = random.Random(7)
    people = [
        await upsert_member(MemberData(external_id=e, display_name=n, verified=v, tier=t))
        for e, n, v, t in _MEMBERS
    ]
    storm = await campaigns.create_campaign(
        campaigns.CampaignInput(
            title="What should we brew next?",
            slug="brew-next",
            description="Tell us what you would buy. Ideas with 5 net votes get a response.",
            thresholds=(
                ThresholdSpec(ThresholdMetric.NET_VOTES, 5, name="Team review"),
                ThresholdSpec(ThresholdMetric.PLEDGED_QUANTITY, 20, name="Pre-order batch"),
            ),
        )
    )
    contest = await campaigns.create_campaign(
        campaigns.CampaignInput(
            title="Design our next tee",
            slug="tee-contest",
            mode=CampaignMode.CONTEST,
            terms_text="You grant Demo Roasters a licence to print your design; credit is yours.",
            rewards="The winning design is printed, and its designer gets 10 tees.",
            thresholds=(ThresholdSpec(ThresholdMetric.AVERAGE_SCORE, 4.0, min_count=3),),
        )
    )
    for campaign in (storm, contest):
        await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    await _ideas_with_votes(storm, people, rng)
    await _designs_with_scores(contest, people, rng)
    await _award_points()
    await _moderation(storm)
    # The hourly evaluator as it will see the campaign a week on if nobody comes back: the
    # seeded members are last week's participants, none this week, so the participation alert
    # is raised for that week, the console lists it and the webhook goes out with it.
    await alerts.evaluate_campaign(await Campaign.get(id=storm.id), utcnow() + timedelta(days=7))


async def _ideas_with_votes(campaign: Campaign, people: list, rng: random.Random) -> None:  # type: ignore[type-arg]
    for index, (title, body) in enumerate(_IDEAS):
        author = people[index % len(people)]
        idea = await ideas.submit_idea(author, ideas.IdeaInput(campaign.id, title, body))
        for voter in people:
            if voter.id == author.id:
                continue
            roll = rng.random()
            if roll < 0.55:
                await votes.cast_vote(voter, idea.id, votes.VoteValue.UP)
            elif roll < 0.7:
                await votes.cast_vote(voter, idea.id, votes.VoteValue.DOWN)
            if rng.random() < 0.3:
                await pledges.pledge(voter, idea.id, rng.randint(1, 4))
        if index == 0:
            await ideas.set_idea_status(
                idea.id, IdeaStatus.UNDER_REVIEW, "Our roasters are testing three recipes."
            )


async def _designs_with_scores(campaign: Campaign, people: list, rng: random.Random) -> None:  # type: ignore[type-arg]
    for index, (title, body) in enumerate(_DESIGNS):
        author = people[-1 - index]
        idea = await ideas.submit_idea(
            author, ideas.IdeaInput(campaign.id, title, body, accepted_terms_version=1)
        )
        for voter in people:
            if voter.id != author.id and rng.random() < 0.8:
                await scores.score_idea(voter, idea.id, rng.randint(2, 5))


async def _award_points() -> None:
    """Book the seed's points now, so the demo members hold the levels their ideas and votes
    earned (flagging needs one). The reputation consumer is idempotent by event (unique source
    keys): when the sweeper later runs every consumer on these events, nothing is booked twice."""
    pending = DomainEvent.filter(processed_at=None, type__in=list(reputation.HANDLERS))
    for event in await pending.order_by("id"):
        await reputation.consume(event)


async def _moderation(campaign: Campaign) -> None:
    """Reports by members whose level allows flagging (the tenant's rules decide who may)."""
    rules = await rules_for_tenant()
    reporters = [m for m in await Member.all().order_by("id") if can_flag(m, rules)]
    by_title = {i.title: i for i in await Idea.filter(campaign_id=campaign.id)}
    for title, reason, note in _OPEN_FLAGS:
        idea = by_title[title]
        reporter = next(m for m in reporters if m.id != idea.author_id)
        await moderation.flag(reporter, idea.id, reason, note)
    author = await Member.get(external_id="cus_1003")
    hidden = await ideas.submit_idea(author, ideas.IdeaInput(campaign.id, *HIDDEN_IDEA))
    report = await moderation.flag(
        next(m for m in reporters if m.id != author.id), hidden.id, FlagReason.SPAM, "Not an idea."
    )
    await moderation.resolve_flag(
        report.id, moderation.Decision.UPHOLD, "Hidden: not a product idea.", hide=True
    )
