"""GraphQL enums, taken from the engine's so the two can never disagree."""

from __future__ import annotations

import strawberry

from engine.models.campaigns import CampaignMode, CampaignStatus, ThresholdMetric
from engine.models.ideas import IdeaStatus
from engine.ranking import IdeaOrder
from engine.votes import VoteValue as _VoteValue

IdeaStatusEnum = strawberry.enum(IdeaStatus, name="IdeaStatus")
CampaignStatusEnum = strawberry.enum(CampaignStatus, name="CampaignStatus")
CampaignModeEnum = strawberry.enum(CampaignMode, name="CampaignMode")
ThresholdMetricEnum = strawberry.enum(ThresholdMetric, name="ThresholdMetric")
IdeaOrderEnum = strawberry.enum(IdeaOrder, name="IdeaOrder")

VoteValueEnum = strawberry.enum(_VoteValue, name="VoteValue")
