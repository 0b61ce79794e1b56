"""The Strawberry schema and its limits; `cosource export-schema` prints it as schema.graphql."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
)
from strawberry.types import ExecutionContext

from api.audit import AuditLog
from api.extensions import Authentication, ErrorMapping, map_stream_errors
from api.limits import Limits, limited_validation
from api.mutations import Mutation
from api.permissions import ConsolePermissions
from api.queries import Query
from api.request_checks import validation_rules
from api.subscriptions import Subscription
from api.types.campaign import Campaign, Threshold
from api.types.comment import Comment
from api.types.idea import Idea
from api.types.member import Member
from api.types.moderation import Flag
from api.types.webhook import WebhookDelivery, WebhookEndpoint
from engine.settings import Settings, get_settings


class CosourceSchema(strawberry.Schema):
    debug = False

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        result = await super().stream(*args, **kwargs)
        if hasattr(result, "__aiter__"):
            return map_stream_errors(result, debug=self.debug)
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry logs every error with a traceback; ErrorMapping logs the unexpected ones.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or get_settings()
    # Depth, aliases, complexity, fragments and spreads in one memoised pass before graphql-core's
    # rules (api/limits.py: the Strawberry limiters re-walk fragments at every spread).
    limits = Limits.of(settings)
    extensions: list[Any] = [
        Authentication,
        ConsolePermissions,
        AuditLog,
        type("ErrorMappingConfigured", (ErrorMapping,), {"debug": settings.debug}),
        # Bounded: unique query strings must not grow memory without limit.
        partial(ParserCache, maxsize=1000),
        # Operations per document, no NUL or lone surrogate in literals (api/request_checks.py);
        # built once so the validation cache, keyed on the rules, hits.
        partial(AddValidationRules, validation_rules(settings.max_operations)),
        limited_validation(limits, maxsize=1000),
        partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    schema = CosourceSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Campaign, Threshold, Idea, Member, Comment, Flag, WebhookEndpoint, WebhookDelivery],
        extensions=extensions,
    )
    schema.debug = settings.debug
    return schema


def export_sdl() -> str:
    """The SDL as checked in; built with default settings so env vars cannot change it."""
    return build_schema(Settings()).as_str() + "\n"
