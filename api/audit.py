"""Writes the audit log entry of every secret-key mutation (engine.audit), whatever its outcome.

A schema extension, so no resolver can forget it: after a mutation operation ran with a secret key,
one entry records the key, the operation and root fields, the global ids named in the input
(variables and literal arguments; no other value, since inputs can hold secrets), the outcome
(GraphQL error codes and `userErrors` codes) and where the request came from (the client address
behind the trusted proxies, as rate limits see it: api.ratelimit.client_ip). Writing it must never
fail the request: a failure is logged. See docs/architecture.md ("Audit log").
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    FieldNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    ValueNode,
)
from starlette.requests import HTTPConnection
from strawberry.extensions import SchemaExtension

from api.auth import Role
from api.extensions import map_error
from api.ratelimit import client_ip
from engine import audit

log = logging.getLogger("cosource.audit")

# Node types whose global ids are worth recording (others are just strings).
_NODE_TYPES = {
    "Campaign",
    "Comment",
    "ConsoleInvite",
    "ConsoleUser",
    "Flag",
    "Idea",
    "Member",
    "Threshold",
    "WebhookDelivery",
    "WebhookEndpoint",
}


def _global_id(value: str) -> str | None:
    if not 4 <= len(value) <= 120:
        return None
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    type_name, _, pk = decoded.partition(":")
    return value if type_name in _NODE_TYPES and pk.isdigit() else None


def _ids_in_value(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        found = _global_id(value)
        if found:
            yield found
    elif isinstance(value, dict):
        for item in value.values():
            yield from _ids_in_value(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _ids_in_value(item)


def _ids_in_literal(node: ValueNode) -> Iterator[str]:
    if isinstance(node, StringValueNode):
        found = _global_id(node.value)
        if found:
            yield found
    elif isinstance(node, ObjectValueNode):
        for entry in node.fields:
            yield from _ids_in_literal(entry.value)
    elif isinstance(node, ListValueNode):
        for value in node.values:
            yield from _ids_in_literal(value)


def _user_error_codes(data: Any) -> list[str]:
    codes: list[str] = []
    if isinstance(data, dict):
        for payload in data.values():
            if isinstance(payload, dict):
                for error in payload.get("userErrors") or payload.get("user_errors") or ():
                    code = error.get("code") if isinstance(error, dict) else None
                    if code:
                        codes.append(str(getattr(code, "value", code)))
    return codes


class AuditLog(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if principal is None or principal.role != Role.SECRET:
            return
        document = context.graphql_document
        if document is None:
            return
        operations = [
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
            and (
                context.operation_name is None
                or (d.name and d.name.value == context.operation_name)
            )
        ]
        if len(operations) != 1 or operations[0].operation != OperationType.MUTATION:
            return
        operation = operations[0]
        fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        ids = list(_ids_in_value(context.variables or {}))
        for field in fields:
            for argument in field.arguments or ():
                ids.extend(_ids_in_literal(argument.value))
        result = context.result
        codes = _user_error_codes(getattr(result, "data", None))
        for error in getattr(result, "errors", None) or ():
            code = (map_error(error, debug=False).extensions or {}).get("code")
            codes.append(str(code or "ERROR"))
        request = getattr(context.context, "request", None)
        headers = getattr(request, "headers", {}) or {}
        state = getattr(request, "state", None)
        if principal.console is not None:
            user = principal.console.user
            actor = audit.Actor("console_user", str(user.id), f"{user.email} ({user.role.value})")
        else:
            key = principal.key
            actor = audit.Actor("api_key", str(key.id), key.label or key.prefix)
        entry = audit.Entry(
            actor=actor,
            operation=operation.name.value if operation.name else "",
            fields=[f.name.value for f in fields],
            target_ids=ids,
            succeeded=not codes,
            error_codes=codes,
            ip=client_ip(request) if isinstance(request, HTTPConnection) else "",
            user_agent=str(headers.get("user-agent", "")),
            request_id=str(getattr(state, "request_id", "") or headers.get("x-request-id", "")),
        )
        try:
            await audit.record(entry)
        except Exception:
            log.exception("audit entry not written: %s", entry)
