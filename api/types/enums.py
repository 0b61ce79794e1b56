"""GraphQL enums, taken from the engine's so the two can never disagree."""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from engine.models.campaigns import CampaignMode, CampaignStatus, ThresholdMetric
from engine.models.ideas import IdeaStatus
from engine.ranking import IdeaOrder
from engine.votes import VoteValue as _VoteValue

# strawberry.enum registers the Enum class itself; the alias is its GraphQL-side name for mypy.
strawberry.enum(IdeaStatus, name="IdeaStatus")
IdeaStatusEnum: TypeAlias = IdeaStatus
strawberry.enum(CampaignStatus, name="CampaignStatus")
CampaignStatusEnum: TypeAlias = CampaignStatus
strawberry.enum(CampaignMode, name="CampaignMode")
CampaignModeEnum: TypeAlias = CampaignMode
strawberry.enum(ThresholdMetric, name="ThresholdMetric")
ThresholdMetricEnum: TypeAlias = ThresholdMetric
strawberry.enum(IdeaOrder, name="IdeaOrder")
IdeaOrderEnum: TypeAlias = IdeaOrder

strawberry.enum(_VoteValue, name="VoteValue")
VoteValueEnum: TypeAlias = _VoteValue
