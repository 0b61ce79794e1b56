"""Root query fields, one module per concept, merged into one Query type."""

from strawberry.tools import merge_types

from api.queries.core import CoreQueries

Query = merge_types("Query", (CoreQueries,))

__all__ = ["Query"]
