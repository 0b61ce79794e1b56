"""Root query fields, one module per concept, merged into one Query type."""

from strawberry.tools import merge_types

from api.queries.core import CoreQueries
from api.queries.webhooks import WebhookQueries

Query = merge_types("Query", (CoreQueries, WebhookQueries))

__all__ = ["Query"]
