"""The shape of a GraphQL request, checked before anything parses or executes it.

A request body must be one JSON object with the documented members; its variables are bounded in
nesting and size; no string anywhere (variables or the document's own literals) holds a NUL or a
lone surrogate half, which no column can store and no client can mean. A request that fails here
gets HTTP 400 and ``BAD_REQUEST`` (or a coded validation error), cheaply, and writes nothing.
Cleaning of the texts that are stored happens once, in the engine (engine.text).
See docs/architecture.md, "Input hardening".
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    GraphQLError,
    StringValueNode,
    ValidationContext,
    ValidationRule,
)
from graphql.language import DocumentNode

from api.errors import Code

_KINDS = {
    "query": (str,),
    "operationName": (str,),
    "variables": (dict,),
    "extensions": (dict,),
}
# JSON nodes (values, keys) in all the variables of one request: a 256 kB body holds ~100 000.
MAX_VARIABLE_NODES = 20_000
_BAD_CHAR = "strings must not contain NUL characters or lone surrogates"


class BadRequest(Exception):
    """The request cannot be a GraphQL request: answered with HTTP 400 and BAD_REQUEST."""


def _has_bad_char(value: str) -> bool:
    if "\x00" in value:
        return True
    if value.isascii():  # no surrogate in it (CPython knows this without a scan)
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate half
        return True
    return False


def _walk(value: Any, depth: int, max_depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise BadRequest(f"variables hold more than {MAX_VARIABLE_NODES} values")
    if depth > max_depth:
        raise BadRequest(f"variables are nested deeper than {max_depth} levels")
    if isinstance(value, str):
        if _has_bad_char(value):
            raise BadRequest(_BAD_CHAR)
    elif isinstance(value, dict):
        # Keys and plain string values (most variables are) checked here, in the order and with
        # the errors a call of their own would give, without the call.
        for key, item in value.items():
            budget[0] -= 1
            if budget[0] < 0:
                raise BadRequest(f"variables hold more than {MAX_VARIABLE_NODES} values")
            if _has_bad_char(key):
                raise BadRequest(_BAD_CHAR)
            if isinstance(item, str) and depth < max_depth:
                budget[0] -= 1
                if budget[0] < 0:
                    raise BadRequest(f"variables hold more than {MAX_VARIABLE_NODES} values")
                if _has_bad_char(item):
                    raise BadRequest(_BAD_CHAR)
            else:
                _walk(item, depth + 1, max_depth, budget)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1, max_depth, budget)


def check_request(payload: object, *, max_variable_depth: int) -> dict[str, Any]:
    """The payload as a checked dict, or BadRequest saying what is wrong with it."""
    if not isinstance(payload, dict):
        raise BadRequest("the request body must be a JSON object with a 'query'")
    for name, kinds in _KINDS.items():
        value = payload.get(name)
        if value is not None and not isinstance(value, kinds):
            expected = "a string" if kinds == (str,) else "an object"
            raise BadRequest(f"'{name}' must be {expected} or null")
    extensions = payload.get("extensions")
    if extensions is not None:
        persisted = extensions.get("persistedQuery")
        if persisted is not None and not isinstance(persisted, dict):
            raise BadRequest("'extensions.persistedQuery' must be an object")
    for name in ("query", "operationName"):
        value = payload.get(name)
        if value is not None and _has_bad_char(value):
            raise BadRequest(f"'{name}' must not contain NUL characters or lone surrogates")
    variables = payload.get("variables")
    if variables:
        _walk(variables, 0, max_variable_depth, [MAX_VARIABLE_NODES])
    return payload


def validation_rules(max_operations: int) -> list[type[ASTValidationRule]]:
    """Rules for the document itself; they run once per distinct document (ValidationCache)."""

    class OperationLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            count = len(node.definitions) - sum(
                1 for d in node.definitions if d.kind == "fragment_definition"
            )
            if count > max_operations:
                self.report_error(
                    GraphQLError(
                        f"a document may hold at most {max_operations} operations",
                        extensions={"code": Code.QUERY_TOO_COMPLEX.value},
                    )
                )

    class StringLiterals(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.reported = False

        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if not self.reported and _has_bad_char(node.value):
                self.reported = True
                self.report_error(
                    GraphQLError(
                        "strings must not contain NUL characters or lone surrogates",
                        nodes=[node],
                        extensions={"code": Code.BAD_USER_INPUT.value},
                    )
                )

    return [OperationLimit, StringLiterals]
