"""recordImpressions: the widget reports which ideas it actually showed (engine.exposure)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.types.common import UserError
from api.types.ids import decode_id
from engine import exposure
from engine.errors import DomainError, ErrorCode


@strawberry.input
class RecordImpressionsInput:
    idea_ids: list[strawberry.ID] = strawberry.field(
        description="Ideas shown on screen, at most 100; each counts once per call."
    )


@strawberry.type
class RecordImpressionsPayload:
    counted: int = strawberry.field(description="Distinct ideas counted.")
    user_errors: list[UserError]


@strawberry.type
class ExposureMutations:
    @strawberry.mutation(
        description="Count one impression of each idea shown (any key; buffered, written in "
        "batches every few seconds). Feeds DISCOVER's exploration and campaignInsights."
    )
    def record_impressions(
        self, info: Info, input: RecordImpressionsInput
    ) -> RecordImpressionsPayload:
        principal = info.context.require_principal()
        if len(input.idea_ids) > exposure.MAX_IDS_PER_REPORT:
            error = DomainError(
                ErrorCode.OUT_OF_RANGE,
                f"at most {exposure.MAX_IDS_PER_REPORT} ideas per call",
                "ideaIds",
            )
            return RecordImpressionsPayload(counted=0, user_errors=UserError.from_domain(error))
        try:
            ids = [decode_id(i, "Idea", "ideaIds") for i in input.idea_ids]
        except DomainError as error:
            return RecordImpressionsPayload(counted=0, user_errors=UserError.from_domain(error))
        counted = exposure.record_impressions(principal.tenant_id, ids)
        return RecordImpressionsPayload(counted=counted, user_errors=[])
