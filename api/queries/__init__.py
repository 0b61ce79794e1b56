"""Root query fields, one module per concept, merged into one Query type."""

from strawberry.tools import merge_types

from api.queries.audit import AuditQueries
from api.queries.core import CoreQueries
from api.queries.insights import InsightQueries
from api.queries.integrations import IntegrationQueries
from api.queries.moderation import ModerationQueries
from api.queries.reputation import ReputationQueries
from api.queries.webhooks import WebhookQueries

Query = merge_types(
    "Query",
    (
        AuditQueries,
        CoreQueries,
        InsightQueries,
        IntegrationQueries,
        ModerationQueries,
        ReputationQueries,
        WebhookQueries,
    ),
)

__all__ = ["Query"]
