"""Root query fields, one module per concept, merged into one Query type."""

from strawberry.tools import merge_types

from api.queries.core import CoreQueries
from api.queries.insights import InsightQueries
from api.queries.moderation import ModerationQueries
from api.queries.reputation import ReputationQueries

Query = merge_types("Query", (CoreQueries, InsightQueries, ModerationQueries, ReputationQueries))

__all__ = ["Query"]
