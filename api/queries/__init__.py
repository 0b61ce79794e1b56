"""Root query fields, one module per concept, merged into one Query type."""

from strawberry.tools import merge_types

from api.queries.core import CoreQueries
from api.queries.insights import InsightQueries
from api.queries.moderation import ModerationQueries

Query = merge_types("Query", (CoreQueries, InsightQueries, ModerationQueries))

__all__ = ["Query"]
