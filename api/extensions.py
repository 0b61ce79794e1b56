"""Schema extensions: refuse bad credentials before execution, and map every error in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
)
from strawberry.extensions import SchemaExtension

from api.errors import UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER, Code, PublicError
from engine.db import is_unavailable
from engine.errors import DomainError, ErrorCode, Forbidden, Unauthenticated

log = logging.getLogger("cosource.api")


class Authentication(SchemaExtension):
    """Credentials that were sent but are bad fail the whole operation with UNAUTHENTICATED.

    Also refuses a document of several operations sent without ``operationName``: the GraphQL
    spec says so, but Strawberry quietly picks the first one.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        error = getattr(context, "auth_error", None)
        if error is None and not getattr(context, "operation_named", True):
            document = self.execution_context.graphql_document
            if document is not None and _operation_count(document) > 1:
                error = PublicError(
                    "the document holds several operations: name one in operationName",
                    Code.BAD_REQUEST,
                )
        if error is not None:
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


def _operation_count(document: DocumentNode) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _with_code(error: GraphQLError, message: str, code: Code, **extra: object) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": code.value, **extra},
    )


def map_error(error: GraphQLError, *, debug: bool) -> GraphQLError:
    original = error.original_error
    if isinstance(original, PublicError):
        return error
    if original is None or (isinstance(original, GraphQLError) and error.path is None):
        # The query itself is wrong (syntax, unknown field, bad enum value, variable types).
        if error.extensions and "code" in error.extensions:
            return error
        return _with_code(error, error.message, Code.GRAPHQL_VALIDATION_FAILED)
    if isinstance(original, DomainError):
        first = original.errors[0]
        code = Code.NOT_FOUND if first.code == ErrorCode.NOT_FOUND else Code.BAD_USER_INPUT
        return _with_code(error, first.message, code, field=first.field, reason=first.code.value)
    if isinstance(original, Unauthenticated):
        return _with_code(error, str(original), Code.UNAUTHENTICATED)
    if isinstance(original, Forbidden):
        return _with_code(error, str(original), Code.FORBIDDEN)
    if is_unavailable(original):
        log.warning("database unavailable at %s: %s", error.path, original)
        return _with_code(
            error,
            UNAVAILABLE_MESSAGE,
            Code.SERVICE_UNAVAILABLE,
            retryAfter=UNAVAILABLE_RETRY_AFTER,
        )
    log.error("unexpected error at %s", error.path, exc_info=original)
    if debug:
        return _with_code(
            error, f"{type(original).__name__}: {original}", Code.INTERNAL_SERVER_ERROR
        )
    # No stack traces, no SQL, no internals: the log has them.
    return _with_code(error, "Unexpected error.", Code.INTERNAL_SERVER_ERROR)


class ErrorMapping(SchemaExtension):
    debug = False

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [map_error(e, debug=self.debug) for e in result.errors]


async def map_stream_errors(stream: AsyncIterator[Any], *, debug: bool) -> AsyncIterator[Any]:
    """Subscriptions (graphql-transport-ws) bypass the HTTP view: give their errors codes too.

    Syntax errors keep their class (Strawberry closes the socket with 4400 for them) and only gain
    the code.
    """
    async for result in stream:
        errors = getattr(result, "errors", None)
        if errors:
            mapped: list[GraphQLError] = []
            for error in errors:
                if isinstance(error, GraphQLSyntaxError):
                    error.extensions = {
                        **(error.extensions or {}),
                        "code": Code.GRAPHQL_VALIDATION_FAILED.value,
                    }
                    mapped.append(error)
                else:
                    mapped.append(map_error(error, debug=debug))
            result.errors = mapped
        yield result
