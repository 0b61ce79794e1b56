"""Ideas awaiting the brand's official response (docs/architecture.md, "Governance").

Closing the loop keeps a community alive: an idea that reached one of its campaign's thresholds, or
that is older than the campaign's ``responseDueDays``, awaits a response until the brand records
one (``setIdeaStatus``, with or without a status change). Every response emits ``idea.responded``
(engine.ideas), webhook-visible, so a CRM can e-mail the author.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.expressions import Q, Subquery

from engine.clock import utcnow
from engine.models.campaigns import Campaign
from engine.models.ideas import IdeaStatusChange, ThresholdCrossing


async def awaiting_response(campaign_id: int | None = None, now: datetime | None = None) -> Q:
    """A filter on ideas: due for a response and not yet answered.

    One small query finds the campaigns with an age rule; the rest is two subqueries in the
    ideas' own statement.
    """
    now = now or utcnow()
    due = Q(id__in=Subquery(ThresholdCrossing.all().values("idea_id")))
    campaigns = Campaign.filter(response_due_days__isnull=False)
    if campaign_id is not None:
        campaigns = campaigns.filter(id=campaign_id)
    for cid, days in await campaigns.values_list("id", "response_due_days"):
        due |= Q(campaign_id=cid, created_at__lte=now - timedelta(days=int(days)))
    answered = Subquery(IdeaStatusChange.all().values("idea_id"))
    return due & ~Q(id__in=answered)
