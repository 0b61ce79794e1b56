"""updateReputationRules and awardBadge (secret key): the brand's say over reputation."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.ids import decode_id
from api.types.member import Member
from api.types.reputation import Badge, ReputationRules, SerialVotingAudit
from engine import vote_reversal
from engine.reputation import badges
from engine.reputation.rules import LevelRule, RulesPatch, update_rules
from engine.unset import UNSET, Maybe


@strawberry.input(description="Points per activity; a field left out keeps its value.")
class ReputationPointsInput:
    idea_submitted: int | None = None
    upvote_received: int | None = None
    downvote_received: int | None = strawberry.field(default=None, description="0 or less.")
    vote_cast: int | None = None
    comment: int | None = None
    idea_accepted: int | None = None
    idea_shipped: int | None = None
    campaign_winner: int | None = None


@strawberry.input
class ReputationLevelInput:
    name: str = strawberry.field(description="1-50 characters, unique.")
    threshold: int = strawberry.field(description="Points; the first level starts at 0.")


@strawberry.input(description="A partial change: fields left out keep their value.")
class UpdateReputationRulesInput:
    points: ReputationPointsInput | None = None
    daily_vote_cap: int | None = None
    serial_vote_limit: int | None = None
    flag_min_level: int | None = None
    idea_votes_badge: int | None = None
    auto_hide_after: int | None = None
    levels: list[ReputationLevelInput] | None = strawberry.field(
        default=None, description="Every level, lowest first (replaces the list)."
    )
    reset_to_defaults: bool = strawberry.field(
        default=False, description="Start from the documented defaults before applying the rest."
    )

    def patch(self) -> RulesPatch:
        points = {}
        if self.points is not None:
            points = {k: v for k, v in vars(self.points).items() if v is not None}
        return RulesPatch(
            points=points,
            daily_vote_cap=_given(self.daily_vote_cap),
            serial_vote_limit=_given(self.serial_vote_limit),
            flag_min_level=_given(self.flag_min_level),
            idea_votes_badge=_given(self.idea_votes_badge),
            auto_hide_after=_given(self.auto_hide_after),
            levels=tuple(LevelRule(lv.threshold, lv.name) for lv in self.levels)
            if self.levels is not None
            else UNSET,
            reset=self.reset_to_defaults,
        )


def _given(value: int | None) -> Maybe[int]:
    return UNSET if value is None else value


@strawberry.type
class UpdateReputationRulesPayload:
    rules: ReputationRules | None
    user_errors: list[UserError]


@strawberry.input
class AwardBadgeInput:
    member_id: strawberry.ID
    code: str = strawberry.field(description="Your badge's id: lowercase letters, digits, dashes.")
    name: str = strawberry.field(description="1-100 characters.")
    description: str = strawberry.field(default="", description="Up to 300 characters.")


@strawberry.input
class RestoreSerialVotesInput:
    audit_id: strawberry.ID


@strawberry.type
class RestoreSerialVotesPayload:
    audit: SerialVotingAudit | None
    user_errors: list[UserError]


@strawberry.type
class AwardBadgePayload:
    badge: Badge | None
    member: Member | None
    awarded: bool = strawberry.field(
        description="False when the member already held this badge (nothing changed)."
    )
    user_errors: list[UserError]


@strawberry.type
class ReputationMutations:
    @strawberry.mutation(
        description="Change the reputation rules (applies to activity from now on; levels follow "
        "new thresholds at once). Secret key only."
    )
    async def update_reputation_rules(
        self, info: Info, input: UpdateReputationRulesInput
    ) -> UpdateReputationRulesPayload:
        info.context.require_secret()
        rules, errors = await attempt(lambda: update_rules(input.patch()))
        return UpdateReputationRulesPayload(
            rules=ReputationRules.of(rules) if rules else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Award one of your own badges; once per member and code. Secret key only."
    )
    async def award_badge(self, info: Info, input: AwardBadgeInput) -> AwardBadgePayload:
        info.context.require_secret()

        async def call() -> badges.BrandBadgeOutcome:
            member_id = decode_id(input.member_id, "Member", "memberId")
            return await badges.award_brand_badge(
                member_id, input.code, input.name, input.description
            )

        outcome, errors = await attempt(call)
        if outcome is None:
            return AwardBadgePayload(badge=None, member=None, awarded=False, user_errors=errors)
        row = outcome.badge
        member = await info.context.loaders.member.load(row.member_id)
        return AwardBadgePayload(
            badge=Badge(
                code=row.code,
                name=row.name,
                description=row.description,
                kind=row.kind,
                awarded_at=row.awarded_at,
            ),
            member=Member.from_row(member) if member else None,
            awarded=outcome.awarded,
            user_errors=[],
        )

    @strawberry.mutation(
        description="Count the votes of a serial-voting finding again (their points stay "
        "reversed); thresholds they now reach are crossed. Secret key only."
    )
    async def restore_serial_votes(
        self, info: Info, input: RestoreSerialVotesInput
    ) -> RestoreSerialVotesPayload:
        info.context.require_secret()
        row, errors = await attempt(
            lambda: vote_reversal.restore(decode_id(input.audit_id, "SerialVotingAudit", "auditId"))
        )
        return RestoreSerialVotesPayload(
            audit=SerialVotingAudit.from_row(row) if row else None, user_errors=errors
        )
