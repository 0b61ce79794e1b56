"""similarIdeas (anyone with a key), campaignInsights and campaignAlerts (secret key)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.types.idea import Idea
from api.types.ids import decode_id
from api.types.insights import (
    AlertFigure,
    CampaignAlert,
    CampaignInsights,
    DayActivity,
    Demand,
    SimilarIdea,
    WeekActivity,
)
from engine import alerts, insights, similarity


@strawberry.type
class InsightQueries:
    @strawberry.field(
        description="Ideas like a draft, best first (at most 5): meaning (sentence embeddings) "
        "blended with wording; without the model, wording only."
    )
    async def similar_ideas(
        self, info: Info, campaign_id: strawberry.ID, text: str
    ) -> list[SimilarIdea]:
        info.context.require_principal()
        found = await similarity.similar_ideas(
            decode_id(campaign_id, "Campaign", "campaignId"), text, info.context.audience
        )
        return [
            SimilarIdea(
                idea=Idea.from_row(s.idea), score=s.score, likely_duplicate=s.likely_duplicate
            )
            for s in found
        ]

    @strawberry.field(
        description="Participation, concentration, exposure, responses and demand. Secret key only."
    )
    async def campaign_insights(self, info: Info, campaign_id: strawberry.ID) -> CampaignInsights:
        info.context.require_secret()
        result = await insights.campaign_insights(decode_id(campaign_id, "Campaign", "campaignId"))
        values = dict(result.__dict__)
        values["daily"] = [DayActivity(**d.__dict__) for d in result.daily]
        values["weekly"] = [WeekActivity(**w.__dict__) for w in result.weekly]
        values["demand"] = Demand(**result.demand.__dict__)
        return CampaignInsights(**values)

    @strawberry.field(
        description="The campaign's raised alerts, newest first (at most 50). Secret key only."
    )
    async def campaign_alerts(self, info: Info, campaign_id: strawberry.ID) -> list[CampaignAlert]:
        info.context.require_secret()
        raised = await alerts.raised_alerts(decode_id(campaign_id, "Campaign", "campaignId"))
        return [
            CampaignAlert(
                kind=a.kind,
                period=a.period,
                raised_at=a.raised_at,
                figures=[AlertFigure(name=n, value=v) for n, v in a.figures],
            )
            for a in raised
        ]
